// The fpgac stream testbench around a CXXRTL model: requests in, responses out, cycles counted.
//
// This is a template: fpgac fills in the lines marked `@FPGAC ...@` for each design, with
// the design's include, whether it has a clock, one struct `Stream<k>` per stream pair
// (its payload sizes in 32-bit words, and how to drive and sense its ports), and one
// `case` per stream in `main`.
//
// Protocol, all text on stdin and stdout. Each job is a header line
//   job <stream> <n> <gap> <stall> <max_idle> <words_in> <key_in...> <words_out> <key_out...>
// followed by n lines, each one request payload in hexadecimal. For each job the driver
// prints `done <cycles> <nanoseconds>` and then n lines `<response hex> <accepted> <answered>`
// (the clock edge, counted from 1 within the job, of the request's transfer on `i` and of
// the response's on `o`). A core that makes no transfer for max_idle cycles prints
// `stuck <accepted> <answered> <cycles>` and the driver exits with status 3.
//
// The producer and the consumer draw their random gaps and stalls exactly as fpgac's
// Amaranth testbench does, from the same generator as Python's `random.Random(seed)`
// (MT19937 seeded by init_by_array, 53-bit doubles): the same seed gives the same
// cycle-by-cycle handshake trace in both engines.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

// A ROM read with an index outside the table is an RTL contract violation to CXXRTL, which
// asserts; the core reads it only to discard it (it answers 0 there).
#define CXXRTL_NDEBUG
#include <cxxrtl/cxxrtl.h>

// CXXRTL reads `addr.data[0]` of an address, which a one-entry memory's zero-width address
// does not have: it would read past the value. A zero-width address is 0.
namespace cxxrtl_yosys {
template<>
inline memory_index::memory_index(const cxxrtl::value<0> &, size_t offset, size_t depth) {
	valid = offset == 0 && depth > 0;
	index = 0;
}
}  // namespace cxxrtl_yosys

// @FPGAC DESIGN@

#ifdef FPGAC_VCD
#include <cxxrtl/cxxrtl_vcd.h>
#include <fstream>
#endif

using cxxrtl::chunk_t;
using cxxrtl::value;
using cxxrtl::wire;
using cxxrtl_design::p_top;

namespace {

// An input port is a `value` (set directly) or a `wire` (set through `next`).
template<size_t N> value<N> &drive(value<N> &port) { return port; }
template<size_t N> value<N> &drive(wire<N> &port) { return port.next; }
// An output port is a `value` (computed on demand) or a `wire` (read through `curr`).
template<size_t N> const value<N> &sense(const value<N> &port) { return port; }
template<size_t N> const value<N> &sense(const wire<N> &port) { return port.curr; }

template<size_t N> void load(value<N> &port, const chunk_t *words) {
	for (size_t k = 0; k < value<N>::chunks; k++)
		port.data[k] = words[k];
}

template<size_t N> void store(const value<N> &port, chunk_t *words) {
	for (size_t k = 0; k < value<N>::chunks; k++)
		words[k] = port.data[k];
}

// @FPGAC STREAMS@

// Python's random.Random: the reference MT19937 with init_by_array seeding.
class PyRandom {
	static const int N = 624, M = 397;
	uint32_t mt[N];
	int mti = N + 1;

	void init_genrand(uint32_t s) {
		mt[0] = s;
		for (mti = 1; mti < N; mti++)
			mt[mti] = 1812433253U * (mt[mti - 1] ^ (mt[mti - 1] >> 30)) + (uint32_t)mti;
	}

	uint32_t genrand() {
		static const uint32_t mag01[2] = {0x0U, 0x9908b0dfU};
		uint32_t y;
		if (mti >= N) {
			int kk;
			for (kk = 0; kk < N - M; kk++) {
				y = (mt[kk] & 0x80000000U) | (mt[kk + 1] & 0x7fffffffU);
				mt[kk] = mt[kk + M] ^ (y >> 1) ^ mag01[y & 1U];
			}
			for (; kk < N - 1; kk++) {
				y = (mt[kk] & 0x80000000U) | (mt[kk + 1] & 0x7fffffffU);
				mt[kk] = mt[kk + (M - N)] ^ (y >> 1) ^ mag01[y & 1U];
			}
			y = (mt[N - 1] & 0x80000000U) | (mt[0] & 0x7fffffffU);
			mt[N - 1] = mt[M - 1] ^ (y >> 1) ^ mag01[y & 1U];
			mti = 0;
		}
		y = mt[mti++];
		y ^= (y >> 11);
		y ^= (y << 7) & 0x9d2c5680U;
		y ^= (y << 15) & 0xefc60000U;
		y ^= (y >> 18);
		return y;
	}

public:
	explicit PyRandom(const std::vector<uint32_t> &key) {
		init_genrand(19650218U);
		size_t i = 1, j = 0;
		for (size_t k = (N > key.size() ? N : key.size()); k; k--) {
			mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525U)) + key[j] + (uint32_t)j;
			i++;
			j++;
			if (i >= (size_t)N) { mt[0] = mt[N - 1]; i = 1; }
			if (j >= key.size()) j = 0;
		}
		for (size_t k = N - 1; k; k--) {
			mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941U)) - (uint32_t)i;
			i++;
			if (i >= (size_t)N) { mt[0] = mt[N - 1]; i = 1; }
		}
		mt[0] = 0x80000000U;
	}

	double random() {
		uint32_t a = genrand() >> 5, b = genrand() >> 6;
		return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
	}
};

struct Job {
	size_t stream = 0, n = 0;
	double gap = 0, stall = 0;
	uint64_t max_idle = 0;
	std::vector<uint32_t> key_in, key_out;
	std::vector<chunk_t> requests;
};

struct Outcome {
	std::vector<chunk_t> responses;
	std::vector<uint64_t> accepted, answered;
	uint64_t cycles = 0, nanoseconds = 0;
	bool stuck = false;
};

#ifdef FPGAC_VCD
struct Waveform {
	cxxrtl::vcd_writer writer;
	std::ofstream file;
	uint64_t time = 0;  // in half cycles
	void sample() {
		writer.sample(time++ * 500);  // a 1 us clock, as fpgac's Amaranth testbench uses
		if (writer.buffer.size() > (1 << 20)) flush();
	}
	void flush() {
		file << writer.buffer;
		writer.buffer.clear();
	}
};
Waveform *waveform = nullptr;
#define FPGAC_SAMPLE() do { if (waveform) waveform->sample(); } while (0)
#else
#define FPGAC_SAMPLE() do {} while (0)
#endif

// Run one job on stream S; every other stream idles with valid and ready low.
template<class S>
void run(p_top &top, const Job &job, Outcome &out) {
	PyRandom rng_in(job.key_in), rng_out(job.key_out);
	out.responses.assign(job.n * S::OUT, 0);
	out.accepted.assign(job.n, 0);
	out.answered.assign(job.n, 0);
	size_t next = 0, got = 0;
	bool offering = false;
	uint64_t edge = 0, idle = 0;
	auto start = std::chrono::steady_clock::now();
	while (got < job.n) {
		// The producer decides whether to idle only between requests; once it offers a
		// request it holds it until the core takes it.
		if (!offering && next < job.n && !(job.gap > 0 && rng_in.random() < job.gap)) {
			offering = true;
			S::payload(top, &job.requests[next * S::IN]);
		}
		S::valid(top, offering);
		bool ready = !(job.stall > 0 && rng_out.random() < job.stall);
		S::ready(top, ready);
#if FPGAC_HAS_CLK
		top.p_clk.set<bool>(false);
#endif
		top.step();
		FPGAC_SAMPLE();
		// Transfers happen on the coming edge; sample both handshakes just before it.
		bool taken = offering && S::accepting(top);
		bool answered = ready && S::answering(top);
		if (answered)
			S::response(top, &out.responses[got * S::OUT]);
#if FPGAC_HAS_CLK
		top.p_clk.set<bool>(true);
		top.step();
		FPGAC_SAMPLE();
#endif
		edge++;
		if (answered)
			out.answered[got++] = edge;
		if (taken) {
			out.accepted[next++] = edge;
			offering = false;
		}
		if (taken || answered) {
			idle = 0;
		} else if (++idle > job.max_idle) {
			out.stuck = true;
			break;
		}
	}
	S::valid(top, false);
	S::ready(top, false);
	out.cycles = edge;
	out.nanoseconds = (uint64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(
		std::chrono::steady_clock::now() - start).count();
	if (out.stuck) {
		printf("stuck %zu %zu %llu\n", next, got, (unsigned long long)edge);
		fflush(stdout);
		exit(3);
	}
}

int hex_digit(char c) {
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

// Parse hexadecimal text into `words` little-endian 32-bit chunks.
bool parse_hex(const char *text, size_t length, chunk_t *words, size_t n_words) {
	for (size_t k = 0; k < n_words; k++)
		words[k] = 0;
	size_t bit = 0;
	for (size_t i = length; i-- > 0; bit += 4) {
		int d = hex_digit(text[i]);
		if (d < 0) return false;
		if (d == 0) continue;
		if (bit / 32 >= n_words) return false;
		words[bit / 32] |= (chunk_t)d << (bit % 32);
	}
	return true;
}

void append_hex(std::string &text, const chunk_t *words, size_t n_words) {
	static const char digits[] = "0123456789abcdef";
	size_t top = n_words;
	while (top > 1 && words[top - 1] == 0) top--;
	char buffer[9];
	snprintf(buffer, sizeof buffer, "%x", (unsigned)words[top - 1]);
	text += buffer;
	for (size_t k = top - 1; k-- > 0;)
		for (int shift = 28; shift >= 0; shift -= 4)
			text += digits[(words[k] >> shift) & 0xf];
}

[[noreturn]] void fail(const char *what) {
	fprintf(stderr, "fpgac testbench: %s\n", what);
	exit(2);
}

bool read_line(std::string &line) {
	line.clear();
	int c;
	while ((c = getchar()) != EOF && c != '\n')
		line += (char)c;
	return c != EOF || !line.empty();
}

template<class S>
void run_job(p_top &top, Job &job) {
	job.requests.assign(job.n * S::IN, 0);
	std::string line;
	for (size_t r = 0; r < job.n; r++) {
		if (!read_line(line)) fail("fewer request lines than the job announced");
		if (!parse_hex(line.data(), line.size(), &job.requests[r * S::IN], S::IN))
			fail("a request is not hexadecimal or is wider than the request payload");
	}
	Outcome out;
	run<S>(top, job, out);
	std::string text = "done " + std::to_string(out.cycles) + " " +
		std::to_string(out.nanoseconds) + "\n";
	for (size_t r = 0; r < job.n; r++) {
		append_hex(text, &out.responses[r * S::OUT], S::OUT);
		text += ' ';
		text += std::to_string(out.accepted[r]);
		text += ' ';
		text += std::to_string(out.answered[r]);
		text += '\n';
	}
	fwrite(text.data(), 1, text.size(), stdout);
	fflush(stdout);
}

std::vector<uint32_t> read_key(const char *&cursor) {
	char *end;
	unsigned long n = strtoul(cursor, &end, 10);
	cursor = end;
	std::vector<uint32_t> key;
	for (unsigned long i = 0; i < n; i++) {
		key.push_back((uint32_t)strtoul(cursor, &end, 10));
		cursor = end;
	}
	if (key.empty()) fail("a seed needs at least one word");
	return key;
}

}  // namespace

int main(int argc, char **argv) {
	p_top top;
#ifdef FPGAC_VCD
	Waveform vcd;
	cxxrtl::debug_items items;
	if (argc > 1) {
		top.debug_info(&items, nullptr, "");
		vcd.writer.timescale(1, "ns");
		vcd.writer.add_without_memories(items);
		vcd.file.open(argv[1]);
		if (!vcd.file) fail("cannot open the waveform file");
		waveform = &vcd;
	}
#else
	(void)argc;
	(void)argv;
#endif
	top.step();
	std::string line;
	while (read_line(line)) {
		if (line.empty()) continue;
		if (line.compare(0, 4, "job ") != 0) fail("expected a `job` line");
		const char *cursor = line.c_str() + 4;
		char *end;
		Job job;
		job.stream = strtoul(cursor, &end, 10); cursor = end;
		job.n = strtoul(cursor, &end, 10); cursor = end;
		job.gap = strtod(cursor, &end); cursor = end;
		job.stall = strtod(cursor, &end); cursor = end;
		job.max_idle = strtoull(cursor, &end, 10); cursor = end;
		job.key_in = read_key(cursor);
		job.key_out = read_key(cursor);
		switch (job.stream) {
			// @FPGAC CASES@
			default: fail("no such stream");
		}
	}
#ifdef FPGAC_VCD
	if (waveform) vcd.flush();
#endif
	return 0;
}
