// The chunked body decoder.
#include "http/chunked_body.h"

#include <algorithm>

#include "http_text.h"

namespace faas::gateway {
namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

ChunkedDecoder::ChunkedDecoder(std::uint64_t max_body, std::size_t max_line,
                               std::size_t max_trailer_bytes)
    : max_body_(max_body), max_line_(max_line), max_trailer_bytes_(max_trailer_bytes) {}

ChunkedDecoder::Status ChunkedDecoder::feed(std::string_view input, std::string& body,
                                            std::size_t& consumed) {
    consumed = 0;
    while (true) {
        const std::string_view rest = input.substr(consumed);
        switch (state_) {
            case State::kDone:
                return Status::kDone;
            case State::kData: {
                if (rest.empty()) return Status::kNeedMore;
                const std::size_t take =
                    static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, rest.size()));
                body.append(rest.data(), take);
                consumed += take;
                remaining_ -= take;
                if (remaining_ == 0) state_ = State::kDataEnd;
                continue;
            }
            case State::kDataEnd:
                if (rest.size() < 2) return Status::kNeedMore;
                if (rest[0] != '\r' || rest[1] != '\n') return Status::kMalformed;
                consumed += 2;
                state_ = State::kSize;
                continue;
            case State::kSize:
            case State::kTrailer:
                break;
        }
        // A line: a chunk size (with optional extensions) or a trailer field.
        const auto lf = rest.find('\n');
        if (lf == std::string_view::npos)
            return rest.size() > max_line_ ? Status::kMalformed : Status::kNeedMore;
        if (lf == 0 || rest[lf - 1] != '\r' || lf > max_line_) return Status::kMalformed;
        const std::string_view line = rest.substr(0, lf - 1);
        consumed += lf + 1;
        if (state_ == State::kTrailer) {
            if (line.empty()) {
                state_ = State::kDone;
                return Status::kDone;
            }
            trailer_bytes_ += lf + 1;
            const auto colon = line.find(':');
            if (trailer_bytes_ > max_trailer_bytes_ || colon == std::string_view::npos ||
                !is_token(line.substr(0, colon)) || !is_field_value(line.substr(colon + 1)))
                return Status::kMalformed;
            continue;
        }
        std::size_t digits = 0;
        std::uint64_t size = 0;
        while (digits < line.size() && hex_digit(line[digits]) >= 0) {
            if (digits == 15) return Status::kMalformed;  // past 2^60: no honest chunk
            size = size * 16 + static_cast<std::uint64_t>(hex_digit(line[digits]));
            ++digits;
        }
        if (digits == 0) return Status::kMalformed;
        // Only an extension may follow the size: ";name[=value]", blanks allowed before ';'.
        const std::string_view after_size = line.substr(digits);
        std::string_view extension = after_size;
        while (!extension.empty() && (extension.front() == ' ' || extension.front() == '\t'))
            extension.remove_prefix(1);
        if (!after_size.empty() &&
            (extension.empty() || extension.front() != ';' || !is_field_value(extension)))
            return Status::kMalformed;
        if (size == 0) {
            state_ = State::kTrailer;
            continue;
        }
        if (size > max_body_ - std::min(decoded_, max_body_)) return Status::kTooLarge;
        decoded_ += size;
        remaining_ = size;
        state_ = State::kData;
    }
}

}  // namespace faas::gateway
