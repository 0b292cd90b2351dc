// The chunked body decoder, fed whole and a byte at a time.
#include "http/chunked_body.h"

#include <doctest/doctest.h>

#include <string>

using namespace faas::gateway;

namespace {

struct Outcome {
    ChunkedDecoder::Status status;
    std::string body;
    std::size_t consumed;
};

Outcome decode(std::string_view input, std::uint64_t max_body = 1 << 20) {
    ChunkedDecoder decoder(max_body);
    Outcome out{ChunkedDecoder::Status::kNeedMore, {}, 0};
    out.status = decoder.feed(input, out.body, out.consumed);
    return out;
}

// Offers the input one more byte at a time, as a slow client would send it.
Outcome decode_bytewise(std::string_view input) {
    ChunkedDecoder decoder(1 << 20);
    Outcome out{ChunkedDecoder::Status::kNeedMore, {}, 0};
    std::size_t offset = 0;
    for (std::size_t end = 1; end <= input.size(); ++end) {
        std::size_t used = 0;
        out.status = decoder.feed(input.substr(offset, end - offset), out.body, used);
        offset += used;
        if (out.status != ChunkedDecoder::Status::kNeedMore) break;
    }
    out.consumed = offset;
    return out;
}

}  // namespace

TEST_CASE("a chunked body decodes, extensions and trailers dropped, the rest left unread") {
    const std::string input = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\nGET /";
    for (const auto& out : {decode(input), decode_bytewise(input)}) {
        CHECK(out.status == ChunkedDecoder::Status::kDone);
        CHECK(out.body == "hello world");
    }
    CHECK(decode(input).consumed == input.size() - 5);
}

TEST_CASE("upper-case hex, blanks before an extension, and an empty body") {
    CHECK(decode("5 ;x\r\nhello\r\n0\r\n\r\n").body == "hello");
    CHECK(decode("A\r\n0123456789\r\n0\r\n\r\n").body == "0123456789");
    const auto empty = decode("0\r\n\r\n");
    CHECK(empty.status == ChunkedDecoder::Status::kDone);
    CHECK(empty.body.empty());
}

TEST_CASE("malformed framing is refused") {
    for (std::string_view input :
         {"x\r\nhello\r\n0\r\n\r\n", "+5\r\nhello\r\n0\r\n\r\n", " 5\r\nhello\r\n0\r\n\r\n",
          "5\nhello\r\n0\r\n\r\n", "5\r\nhelloXX0\r\n\r\n", "5 x\r\nhello\r\n0\r\n\r\n",
          "1000000000000000\r\n", "0\r\nBad Trailer\r\n\r\n", "0\r\nX: a\x01\r\n\r\n",
          "5 \r\nhello\r\n0\r\n\r\n"}) {
        CAPTURE(input);
        CHECK(decode(input).status == ChunkedDecoder::Status::kMalformed);
    }
}

TEST_CASE("a size line without an end is refused once past the line limit, not buffered") {
    ChunkedDecoder decoder(1 << 20, 64);
    std::string body;
    std::size_t used = 0;
    CHECK(decoder.feed(std::string(32, '1'), body, used) == ChunkedDecoder::Status::kNeedMore);
    CHECK(decoder.feed(std::string(100, '1'), body, used) == ChunkedDecoder::Status::kMalformed);
}

TEST_CASE("the decoded total is bounded") {
    CHECK(decode("5\r\nhello\r\n0\r\n\r\n", 5).status == ChunkedDecoder::Status::kDone);
    CHECK(decode("5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n", 5).status ==
          ChunkedDecoder::Status::kTooLarge);
    CHECK(decode("FFFFFFFF\r\n", 1 << 20).status == ChunkedDecoder::Status::kTooLarge);
}
