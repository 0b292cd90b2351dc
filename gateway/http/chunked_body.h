// Decodes a chunked request body (RFC 9112 7.1) as its bytes arrive. Strict like the head
// parser: a size is hex digits only (no sign, no blank, at most 15 digits), every line ends in
// CRLF, extensions and trailer fields are bounded and dropped. The decoded total is bounded
// too: past `max_body` the decoder stops with kTooLarge, which the connection answers 413.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace faas::gateway {

class ChunkedDecoder {
  public:
    enum class Status { kNeedMore, kDone, kMalformed, kTooLarge };

    explicit ChunkedDecoder(std::uint64_t max_body, std::size_t max_line = 4096,
                            std::size_t max_trailer_bytes = 16 << 10);

    /// Decodes what it can of `input` into `body`; `consumed` is how many bytes of `input` were
    /// used (the rest must be offered again with more behind it).
    Status feed(std::string_view input, std::string& body, std::size_t& consumed);

  private:
    enum class State { kSize, kData, kDataEnd, kTrailer, kDone };

    std::uint64_t max_body_;
    std::size_t max_line_;
    std::size_t max_trailer_bytes_;
    State state_ = State::kSize;
    std::uint64_t remaining_ = 0;
    std::uint64_t decoded_ = 0;
    std::size_t trailer_bytes_ = 0;
};

}  // namespace faas::gateway
