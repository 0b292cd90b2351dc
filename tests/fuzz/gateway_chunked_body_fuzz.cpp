// Fuzz target: the chunked body decoder, fed what a client sends after a chunked head. The
// verdict and the body must be the same whether the bytes come at once or a few at a time (the
// connection feeds it on every read), the body stays within its bound, and nothing past the
// end of the body is consumed (it is the next pipelined request).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/chunked_body.h"

namespace {

using faas::gateway::ChunkedDecoder;

struct Outcome {
    ChunkedDecoder::Status status = ChunkedDecoder::Status::kNeedMore;
    std::string body;
    std::size_t consumed = 0;  ///< Of the whole input.
};

// Offers the input `step` more bytes at a time, with what was not consumed offered again.
Outcome decode(std::string_view input, std::uint64_t max_body, std::size_t step) {
    ChunkedDecoder decoder(max_body, 64, 256);
    Outcome out;
    std::string pending;
    std::size_t offered = 0;
    while (true) {
        const std::size_t more = std::min(step, input.size() - offered);
        pending.append(input.substr(offered, more));
        offered += more;
        std::size_t used = 0;
        out.status = decoder.feed(pending, out.body, used);
        if (used > pending.size()) __builtin_trap();
        out.consumed += used;
        pending.erase(0, used);
        if (out.status != ChunkedDecoder::Status::kNeedMore || offered == input.size()) break;
    }
    return out;
}

void check(std::string_view input, std::uint64_t max_body) {
    const Outcome whole = decode(input, max_body, input.size() + 1);
    if (whole.body.size() > max_body) __builtin_trap();
    if (whole.consumed > input.size()) __builtin_trap();
    if (whole.status == ChunkedDecoder::Status::kDone &&
        input.substr(0, whole.consumed).substr(whole.consumed < 2 ? 0 : whole.consumed - 2) !=
            "\r\n")
        __builtin_trap();
    for (std::size_t step : {std::size_t{1}, std::size_t{3}, std::size_t{64}}) {
        const Outcome pieces = decode(input, max_body, step);
        if (pieces.status != whole.status) __builtin_trap();
        if (whole.status == ChunkedDecoder::Status::kDone &&
            (pieces.body != whole.body || pieces.consumed != whole.consumed))
            __builtin_trap();
        if (whole.status == ChunkedDecoder::Status::kNeedMore && pieces.body != whole.body)
            __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::vector<char> bytes(data, data + size);
    const std::string_view input(bytes.data(), bytes.size());
    check(input, 1 << 20);
    check(input, 8);
    return 0;
}

std::vector<std::string> fuzz_seeds() {
    return {
        "5\r\nhello\r\n0\r\n\r\n",
        "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        "5;name=value\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n",
        "A \t;x\r\n0123456789\r\n0\r\n\r\n",
        "ffffffffffffffff\r\n",
        "-5\r\nhello\r\n0\r\n\r\n",
        "5\r\nhelloXX0\r\n\r\n",
        "5\nhello\n0\n\n",
        "0\r\n\r\n",
        "1\r\na\r\n1\r\nb\r\n1\r\nc\r\n1\r\nd\r\n1\r\ne\r\n1\r\nf\r\n1\r\ng\r\n1\r\nh\r\n1\r\ni\r\n"
        "0\r\n\r\n",
    };
}
