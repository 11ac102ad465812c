// SHA-256 through OpenSSL's EVP interface (SHA-NI accelerated; libsodium's is ~5x slower here).
#pragma once

#include <cstddef>
#include <new>
#include <string_view>

#include <openssl/evp.h>
#include <openssl/opensslv.h>

#include "pdtp/wire/types.hpp"

namespace pdtp {

// Incremental hasher. One EVP context per object, reused: after final_hex() it is ready for a new hash.
class Sha256 {
 public:
  Sha256() : md_(fetch_sha256()), ctx_(EVP_MD_CTX_new()) {
    if (!ctx_) {  // allocation failure is the only way this can fail
      release();
      throw std::bad_alloc();
    }
    reset();
  }
  ~Sha256() { release(); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  // A moved-from hasher may only be destroyed or assigned to.
  Sha256(Sha256&& o) noexcept : md_(o.md_), ctx_(o.ctx_) {
    o.md_ = nullptr;
    o.ctx_ = nullptr;
  }
  Sha256& operator=(Sha256&& o) noexcept {
    if (this != &o) {
      release();
      md_ = o.md_;
      ctx_ = o.ctx_;
      o.md_ = nullptr;
      o.ctx_ = nullptr;
    }
    return *this;
  }

  void update(const void* data, std::size_t size) { EVP_DigestUpdate(ctx_, data, size); }
  void update(std::string_view data) { update(data.data(), data.size()); }

  // Lowercase hex digest of everything fed since construction or the previous final_hex().
  Sha256Hex final_hex() {
    static constexpr char hex[] = "0123456789abcdef";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, digest, &len);
    Sha256Hex out(2 * static_cast<std::size_t>(len), '0');
    for (unsigned int i = 0; i < len; ++i) {
      out[2 * i] = hex[digest[i] >> 4];
      out[2 * i + 1] = hex[digest[i] & 0xFu];
    }
    reset();
    return out;
  }

  void reset() { EVP_DigestInit_ex(ctx_, md_ ? md_ : EVP_sha256(), nullptr); }

 private:
#if OPENSSL_VERSION_MAJOR >= 3
  static EVP_MD* fetch_sha256() { return EVP_MD_fetch(nullptr, "SHA256", nullptr); }
  void release() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
#else
  static EVP_MD* fetch_sha256() { return nullptr; }
  void release() { EVP_MD_CTX_free(ctx_); }
#endif

  EVP_MD* md_;  // fetched once so re-initialising skips OpenSSL 3's implicit algorithm lookup
  EVP_MD_CTX* ctx_;
};

inline Sha256Hex sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.final_hex();
}

}  // namespace pdtp
