// The fast bench's driver: a C++ main around the Verilated test wrapper of
// layerpipe.sim.fast_harness (top "Vtop"), so that nothing but the model runs
// per cycle. layerpipe.sim.fast_sim builds it with Verilator and runs it.
//
// The clock is toggled here, two eval() a cycle. Every input of the wrapper
// passes a register (fast_harness.harness_verilog), so a pulse set before
// tick() reaches the harness at the edge after, and Verilator's
// input-combinational phase, which runs at every eval(), has nothing to do.
//
// Arguments are KEY=VALUE (all required):
//   stimulus     text file of every sample transfer, one $readmemh word a line
//   total        sample transfers in the run
//   stim_depth   words of the circular stimulus memory (its halves are refilled)
//   result_depth words of the circular result memory
//   gap_threshold, bp_threshold, gap_seed, bp_seed   the harness's generators
//   progress_cycles  at most this many cycles between wakes of this loop
//   stall_cycles     no beat and no result for this long: the design stalled
//   beats_offset, beats_width   the field `beats` of the status word
//   progress     file that holds the number of result transfers so far
//   results      file to write every result transfer to (hex, cycle above payload)
//   summary      file to write the run's figures to (JSON)
// The weights are in weights.hex (the harness's $writememh) when it exits 0.
// Exit 3 with one line on stderr: the design stalled; 2: bad arguments or files.
#include <chrono>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "Vtop.h"
#include "verilated.h"

namespace {

std::map<std::string, std::string> args;

std::string arg(const char* key) {
    auto it = args.find(key);
    if (it == args.end()) {
        std::fprintf(stderr, "fast bench: argument %s= is missing\n", key);
        std::exit(2);
    }
    return it->second;
}

uint64_t num(const char* key) { return std::strtoull(arg(key).c_str(), nullptr, 0); }

// bits [offset, offset + width) of a port, whatever Verilator's type for its width
template <typename T>
std::enable_if_t<std::is_integral_v<T>, uint64_t> field(T v, int offset, int width) {
    uint64_t x = static_cast<uint64_t>(v) >> offset;
    return width >= 64 ? x : x & ((uint64_t{1} << width) - 1);
}
template <std::size_t N>
uint64_t field(const VlWide<N>& v, int offset, int width) {
    uint64_t x = 0;
    for (int b = 0; b < width && b < 64; ++b) {
        int at = offset + b;
        if (static_cast<std::size_t>(at / 32) < N && (v[at / 32] >> (at % 32) & 1)) x |= uint64_t{1} << b;
    }
    return x;
}
template <typename T>
std::enable_if_t<std::is_integral_v<T>, std::string> hex(T v) {
    char s[24];
    std::snprintf(s, sizeof s, "%llx", static_cast<unsigned long long>(v));
    return s;
}
template <std::size_t N>
std::string hex(const VlWide<N>& v) {
    std::string s;
    char w[12];
    for (std::size_t k = N; k-- > 0;) {
        std::snprintf(w, sizeof w, "%08x", static_cast<unsigned>(v[k]));
        s += w;
    }
    return s;
}

std::vector<std::string> lines_of(const char* path) {
    std::ifstream f(path);
    if (!f) {
        std::fprintf(stderr, "fast bench: cannot read %s\n", path);
        std::exit(2);
    }
    std::vector<std::string> lines;
    for (std::string line; std::getline(f, line);)
        if (!line.empty() && line[0] != '/') lines.push_back(line);
    return lines;
}

void write_atomic(const std::string& path, const std::string& text) {
    std::string tmp = path + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f) return;
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
    std::rename(tmp.c_str(), path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto eq = a.find('=');
        if (eq != std::string::npos) args[a.substr(0, eq)] = a.substr(eq + 1);
    }
    const uint64_t total = num("total"), sd = num("stim_depth"), rd = num("result_depth");
    const uint64_t half = sd / 2, progress_cycles = num("progress_cycles"), stall_cycles = num("stall_cycles");
    const int beats_at = static_cast<int>(num("beats_offset")), beats_bits = static_cast<int>(num("beats_width"));
    std::ifstream stimulus(arg("stimulus"));
    std::FILE* results = std::fopen(arg("results").c_str(), "w");
    if (!stimulus || !results) {
        std::fprintf(stderr, "fast bench: cannot open %s or %s\n", arg("stimulus").c_str(), arg("results").c_str());
        return 2;
    }

    auto ctx = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<Vtop>(ctx.get());
    auto tick = [&]() {
        top->clk = 1;
        top->eval();
        ctx->timeInc(1);
        top->clk = 0;
        top->eval();
        ctx->timeInc(1);
    };

    uint64_t next_chunk = 0;
    // the next `halves` half-memories of words into the stimulus file, from its address
    auto load_next = [&](int halves) {
        std::string text = "@" + hex((next_chunk % 2) * half) + "\n", line;
        for (uint64_t k = 0; k < halves * half && std::getline(stimulus, line);) {
            if (line.empty()) continue;
            text += line;
            text += '\n';
            ++k;
        }
        write_atomic("stimulus.hex", text);
        next_chunk += halves;
        top->stim_load = 1;
    };

    top->rst = 1;
    top->clk = 0;
    top->eval();
    load_next(2);
    tick();
    top->stim_load = 0;
    tick();     // the stimulus memory reads its file at this edge
    top->rst = 0;
    top->setup = 1;
    top->gap_seed = static_cast<uint32_t>(num("gap_seed"));
    top->bp_seed = static_cast<uint32_t>(num("bp_seed"));
    top->gap_threshold = static_cast<uint32_t>(num("gap_threshold"));
    top->bp_threshold = static_cast<uint32_t>(num("bp_threshold"));
    top->total_words = static_cast<uint32_t>(total);
    tick();
    tick();     // the harness sees setup: seeds loaded, counters cleared
    top->setup = 0;
    tick();
    const auto started = std::chrono::steady_clock::now();
    const std::clock_t cpu_started = std::clock();

    uint64_t words = 0, seen_beats = ~uint64_t{0}, seen_count = ~uint64_t{0}, moved_at = 0;
    const std::string progress = arg("progress");
    for (;;) {
        for (uint64_t k = 0; !top->attention && k < progress_cycles; ++k) tick();
        const uint64_t count = top->result_count, cycle = top->cycle;
        const bool finished = top->finished;
        const uint64_t beats = field(top->status, beats_at, beats_bits);
        if (beats != seen_beats || count != seen_count) {
            seen_beats = beats, seen_count = count, moved_at = cycle;
        } else if (cycle - moved_at > stall_cycles) {
            std::fprintf(stderr, "the design stalled: no beat started and no result left for %llu cycles "
                         "(%llu beats, %llu result words)\n", static_cast<unsigned long long>(stall_cycles),
                         static_cast<unsigned long long>(beats), static_cast<unsigned long long>(count));
            return 3;
        }
        if (top->stim_request) {
            top->ack = 1;
            if (next_chunk * half < total) load_next(1);
        }
        top->weights_dump = finished;
        tick();
        top->stim_load = top->weights_dump = top->ack = 0;
        tick();     // the harness acts on the pulses at this edge: files read and written
        // the unread result words, in ranges that do not wrap around the circular memory
        while ((finished || count - words >= rd / 4) && words < count) {
            const uint64_t first = words % rd, n = std::min(count - words, rd - first);
            top->dump_first = static_cast<uint32_t>(first);
            top->dump_last = static_cast<uint32_t>(first + n - 1);
            top->results_dump = 1;
            tick();
            top->results_dump = 0;
            tick();
            auto dumped = lines_of("results.hex");
            if (dumped.size() != n) {
                std::fprintf(stderr, "fast bench: results.hex has %zu words, not %llu\n", dumped.size(),
                             static_cast<unsigned long long>(n));
                return 2;
            }
            for (const auto& w : dumped) std::fprintf(results, "%s\n", w.c_str());
            words += n;
        }
        write_atomic(progress, std::to_string(words));
        if (finished) break;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double cpu_seconds = static_cast<double>(std::clock() - cpu_started) / CLOCKS_PER_SEC;
    std::fclose(results);
    char figures[512];
    std::snprintf(figures, sizeof figures,
                  "{\"cycles\": %llu, \"status\": \"%s\", \"gap_cycles\": %llu, \"backpressure_cycles\": %llu, "
                  "\"result_words\": %llu, \"run_seconds\": %.6f, \"run_cpu_seconds\": %.6f}\n",
                  static_cast<unsigned long long>(top->idle_cycle), hex(top->status).c_str(),
                  static_cast<unsigned long long>(top->gap_cycles),
                  static_cast<unsigned long long>(top->backpressure_cycles),
                  static_cast<unsigned long long>(words), seconds, cpu_seconds);
    write_atomic(arg("summary"), figures);
    top->final();
    return 0;
}
