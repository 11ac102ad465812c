// Frames a PDTP message and decodes it again using only the installed headers (the umbrella header).
#include <pdtp.hpp>

#include <cstdio>

int main() {
  pdtp::Message sent = pdtp::AskInfo{"http://example.org/video.mkv"};
  auto frame = pdtp::encode_frame(pdtp::encode_message(sent));
  if (!frame) return 1;
  pdtp::FrameDecoder decoder;
  decoder.feed(*frame);
  auto body = decoder.next();
  if (!body) return 2;
  auto received = pdtp::decode_message(*body);
  if (!received || !(*received == sent)) return 3;
  std::puts("pdtp imported: round trip ok");
  return 0;
}
