// Runs a libFuzzer-style target without libFuzzer, so every build (g++ included, and the
// ASan+UBSan preset in CI) exercises it: the seed inputs, then a fixed number of deterministic
// mutations of them. With clang, build with -DFAAS_FUZZ=ON for real coverage-guided fuzzing.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
std::vector<std::string> fuzz_seeds();

int main(int argc, char** argv) {
    long rounds = argc > 1 ? std::atol(argv[1]) : 20000;
    auto seeds = fuzz_seeds();
    for (const auto& seed : seeds)
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(seed.data()), seed.size());
    std::mt19937 random(12345);
    const std::string interesting = "\r\n:=\0 \t-_%.,;\"'chunkedHTTP/1.10123456789abcxyzms";
    for (long i = 0; i < rounds; ++i) {
        std::string input = seeds[random() % seeds.size()];
        int edits = 1 + static_cast<int>(random() % 8);
        for (int e = 0; e < edits; ++e) {
            std::size_t at = input.empty() ? 0 : random() % (input.size() + 1);
            switch (random() % 4) {
                case 0:
                    input.insert(at, 1, interesting[random() % interesting.size()]);
                    break;
                case 1:
                    if (at < input.size()) input.erase(at, 1 + random() % 4);
                    break;
                case 2:
                    if (at < input.size()) input[at] = static_cast<char>(random() % 256);
                    break;
                case 3:
                    input.insert(at, input.substr(random() % (input.size() + 1), random() % 16));
                    break;
            }
        }
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
    }
    std::printf("%zu seeds and %ld mutations ran without a crash\n", seeds.size(), rounds);
    return 0;
}
