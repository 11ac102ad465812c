// A peer that serves corrupted chunks: every bad chunk is caught by its hash, thrown away and fetched
// again from someone else, and the download is still byte-exact.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "process.hpp"

using namespace pdtp_test;

namespace {

// Listens like a peer and answers every GET with the right length and Content-Range but wrong bytes.
class LyingPeer {
 public:
  explicit LyingPeer(std::uint64_t file_size) : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this, file_size] { serve(file_size); });
  }
  ~LyingPeer() {
    stop_ = true;
    asio::error_code ec;
    tcp::socket wake(io_);  // a blocking accept in another thread is not interrupted by close()
    wake.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int served() const { return served_; }

 private:
  void serve(std::uint64_t file_size) {
    while (!stop_) {
      tcp::socket s(io_);
      asio::error_code ec;
      acceptor_.accept(s, ec);
      if (ec) return;
      std::string head;
      char c;
      while (head.find("\r\n\r\n") == std::string::npos && wait_readable(s.native_handle()) &&
             s.read_some(asio::buffer(&c, 1), ec) == 1)
        head += c;
      auto r = head.find("Range: bytes=");
      if (r == std::string::npos) continue;
      std::uint64_t min = std::stoull(head.substr(r + 13));
      std::uint64_t max = std::stoull(head.substr(head.find('-', r + 13) + 1));
      std::string body(max - min + 1, 'X');
      std::string reply = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes " + std::to_string(min) + "-" +
                          std::to_string(max) + "/" + std::to_string(file_size) +
                          "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      asio::write(s, asio::buffer(reply), ec);
      ++served_;
    }
  }
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> served_{0};
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("chunks from a lying peer fail their hash check and are fetched again from someone else") {
  std::string data(4'000'000, '\0');
  std::mt19937 gen(7);
  for (auto& ch : data) ch = static_cast<char>(gen());
  Dstream d({{"f.bin", data}}, 100'000);

  LyingPeer liar(data.size());
  RawClient control(d.port);
  control.send("register", {{"client_id", "liar"}, {"listen_port", liar.port()}});
  control.send("provide", {{"url", "http://127.0.0.1/f.bin"}});
  control.send("ask_info", {{"url", "http://127.0.0.1/f.bin"}});
  REQUIRE(control.recv_type("tell_info").is_array());  // the provide has been processed

  fs::path out = fs::temp_directory_path() / ("pdtp-bad-peer-" + std::to_string(::getpid()) + ".bin");
  std::string url = "pdtp://127.0.0.1:" + std::to_string(d.port) + "/f.bin";
  std::string cmd = std::string(DSCLIENT_BIN) + " -q --transport tcp --bind 127.0.0.2 -o " + out.string() + " " + url;
  int rc = std::system(("timeout 120 " + cmd).c_str());
  CHECK(rc == 0);
  CHECK(liar.served() > 0);
  CHECK(read_file(out) == data);
  fs::remove(out);

  HttpReply status = http_exchange(d.http_port(), "GET /status.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  REQUIRE(status.status == 200);
  json totals = json::parse(status.body)["totals"];
  CHECK(totals["hash_failures"].get<int>() >= 1);
  CHECK(totals["bytes_from_server"].get<std::uint64_t>() + totals["bytes_from_peers"].get<std::uint64_t>() ==
        data.size());
}
