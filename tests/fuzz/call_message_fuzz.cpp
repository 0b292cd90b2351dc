// Fuzz target: the queued call's decoder, fed arbitrary stored bytes (a stream anyone with
// NATS access can publish to). Either it refuses them with BadMessage (any other exception
// ends the run), or the message it gives encodes and decodes again to the same value.
#include <cstdint>
#include <string>
#include <vector>

#include "call_message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    constexpr std::size_t kMaxBody = 4096;
    faas::queue::CallMessage message;
    try {
        message = faas::queue::decode(bytes, kMaxBody);
    } catch (const faas::queue::BadMessage&) {
        return 0;
    }
    if (message.body.size() > kMaxBody || message.headers.size() > faas::queue::kMaxHeaders)
        __builtin_trap();
    const std::string again = faas::queue::encode(message);  // Must not throw.
    if (faas::queue::decode(again, kMaxBody) != message) __builtin_trap();
    return 0;
}

std::vector<std::string> fuzz_seeds() {
    faas::queue::CallMessage m;
    m.call_id = "8c0b3a4e-5f1d-4c2a-9b7e-0d1f2a3b4c5d";
    m.function = "echoit";
    m.method = "POST";
    m.path = "/a/b";
    m.query = "x=1&y=%20";
    m.headers = {{"Content-Type", "text/plain"}, {"X-A", "1"}, {"X-A", "caf\xc3\xa9\t2"}};
    m.body = std::string("bin\0\n\xff", 6);
    m.callback_url = "http://127.0.0.1:9000/cb";
    m.queue = "default";
    m.enqueued_at = std::chrono::system_clock::time_point(std::chrono::seconds(1796216886));
    m.keep_result = true;
    std::vector<std::string> seeds = {faas::queue::encode(m)};
    m.callback_url.reset();
    m.headers.clear();
    m.body.clear();
    m.path.clear();
    seeds.push_back(faas::queue::encode(m));
    seeds.push_back("{\"v\":1,\"v\":1}\n");
    seeds.push_back("{\"v\":1,\"id\":\"a\",\"headers\":[[\"a\",\"\\u0000\"]]}\nbody");
    seeds.push_back("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n");
    seeds.push_back("\n");
    seeds.push_back("{\"v\":6666606e366666666666666666666666666}\n");  // Number overflow.
    return seeds;
}
