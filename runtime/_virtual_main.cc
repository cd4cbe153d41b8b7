// The virtual board: a board's link top level, simulated with CXXRTL, served on a pseudo-terminal.
//
// The host reaches it exactly as it reaches a real board: as a serial port. Bytes the host
// writes to the terminal are shifted onto the design's `rx` pin (8N1, least significant bit
// first, `divisor` clock cycles per bit, back to back while bytes are waiting); the design's
// `tx` pin is sampled in the middle of each bit and every byte it sends is written back to
// the terminal.
//
// Built by fpgac.runtime from the bundle's `virtual/board.cc` (the CXXRTL model, found on the
// include path) and `virtual/board.json`, whose fields arrive as macros:
//   FPGAC_BOARD (the top level's class), FPGAC_CLK, FPGAC_RX, FPGAC_TX, FPGAC_RST (optional;
//   the ports' members), FPGAC_DIVISOR (cycles per bit), FPGAC_CLK_HZ, FPGAC_BAUD.
//
// Usage: board [--corrupt P] [--drop P] [--seed S] [--idle CYCLES] [--persist] [--stdin-eof]
//   --corrupt P  flip one random bit of a byte on the line with probability P (each direction)
//   --drop P     lose a byte on the line with probability P (each direction)
//   --seed S     seed of those choices (default 0)
//   --idle N     block waiting for the host after N cycles in which nothing moved (10^6)
//   --persist    keep running when the host closes the terminal (default: stop)
//   --stdin-eof  stop when standard input reaches its end (so the simulator dies with its parent)
//
// The first line on stdout is the path of the terminal to open. The simulation stops on
// SIGTERM, SIGINT or SIGHUP, or when the host closes the terminal after having written to
// it; it then prints its statistics on stderr as one JSON line: cycles simulated, bytes
// received from the host and sent by the board, bytes corrupted and dropped in each
// direction, framing errors on `tx`, the cycle at which the first byte from the host
// started on `rx` and the one at which the last byte on `tx` ended.
//
// Simulated time only advances while the simulator runs: when nothing has moved for
// `--idle` cycles it blocks in poll() until the host writes, so an idle board uses no CPU.

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

// A ROM read with an index outside the table is an RTL contract violation to CXXRTL, which
// asserts; the cores read it only to discard it.
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

#include "board.cc"

#if !defined(FPGAC_BOARD) || !defined(FPGAC_CLK) || !defined(FPGAC_RX) || !defined(FPGAC_TX) \
	|| !defined(FPGAC_DIVISOR) || !defined(FPGAC_CLK_HZ) || !defined(FPGAC_BAUD)
#error "define the board's class, ports and UART timing (see the head of this file)"
#endif

using cxxrtl::value;
using cxxrtl::wire;

namespace {

// An input port is a `value` (set directly) or a `wire` (set through `next`).
template<size_t N> value<N> &drive(value<N> &port) { return port; }
template<size_t N> value<N> &drive(wire<N> &port) { return port.next; }
// An output port is a `value` (computed on demand) or a `wire` (read through `curr`).
template<size_t N> const value<N> &sense(const value<N> &port) { return port; }
template<size_t N> const value<N> &sense(const wire<N> &port) { return port.curr; }

volatile sig_atomic_t stop_signal = 0;

void on_signal(int sig) { stop_signal = sig; }

[[noreturn]] void fail(const char *what) {
	fprintf(stderr, "fpgac virtual board: %s (%s)\n", what, strerror(errno));
	exit(2);
}

[[noreturn]] void usage(const char *what) {
	fprintf(stderr, "fpgac virtual board: %s\nusage: board [--corrupt P] [--drop P] [--seed S] "
	        "[--idle CYCLES] [--persist] [--stdin-eof]\n", what);
	exit(2);
}

// splitmix64: small, fast, and good enough to pick which bytes the line damages.
class Random {
	uint64_t state;

public:
	explicit Random(uint64_t seed) : state(seed) {}

	uint64_t next() {
		uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		return z ^ (z >> 31);
	}

	double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }
};

struct Options {
	double corrupt = 0, drop = 0;
	uint64_t seed = 0, idle = 1000000;
	bool persist = false, stdin_eof = false;
};

// The line in one direction: it may corrupt or lose each byte, and counts what it did.
struct Line {
	Random random;
	double corrupt, drop;
	uint64_t corrupted = 0, dropped = 0;

	Line(uint64_t seed, const Options &options)
		: random(seed), corrupt(options.corrupt), drop(options.drop) {}

	// Return false if the byte is lost; otherwise the byte, perhaps with one bit flipped.
	bool carry(uint8_t &byte) {
		if (drop > 0 && random.uniform() < drop) {
			dropped++;
			return false;
		}
		if (corrupt > 0 && random.uniform() < corrupt) {
			byte ^= (uint8_t)(1u << (random.next() >> 61));
			corrupted++;
		}
		return true;
	}
};

// Bytes waiting in one direction, consumed from the front.
struct Queue {
	std::vector<uint8_t> bytes;
	size_t head = 0;

	size_t size() const { return bytes.size() - head; }
	bool empty() const { return head == bytes.size(); }
	const uint8_t *data() const { return bytes.data() + head; }
	uint8_t pop() { return bytes[head++]; }
	void push(const uint8_t *data, size_t n) { bytes.insert(bytes.end(), data, data + n); }
	void consume(size_t n) {
		head += n;
		// Compact once the consumed part dominates, so the vector does not grow forever.
		if (head == bytes.size()) {
			bytes.clear();
			head = 0;
		} else if (head > 4096 && head * 2 > bytes.size()) {
			bytes.erase(bytes.begin(), bytes.begin() + (std::ptrdiff_t)head);
			head = 0;
		}
	}
};

double parse_probability(const char *text, const char *name) {
	char *end;
	double p = strtod(text, &end);
	if (*end || !(p >= 0 && p <= 1)) {
		std::string what = std::string(name) + " needs a probability between 0 and 1";
		usage(what.c_str());
	}
	return p;
}

uint64_t parse_count(const char *text, const char *name) {
	char *end;
	errno = 0;
	unsigned long long n = strtoull(text, &end, 10);
	if (*end || errno || text[0] == '-' || !text[0]) {
		std::string what = std::string(name) + " needs a non-negative integer";
		usage(what.c_str());
	}
	return n;
}

Options parse(int argc, char **argv) {
	Options options;
	for (int i = 1; i < argc; i++) {
		std::string arg = argv[i];
		bool has_value = i + 1 < argc;
		if (arg == "--corrupt" && has_value)
			options.corrupt = parse_probability(argv[++i], "--corrupt");
		else if (arg == "--drop" && has_value)
			options.drop = parse_probability(argv[++i], "--drop");
		else if (arg == "--seed" && has_value)
			options.seed = parse_count(argv[++i], "--seed");
		else if (arg == "--idle" && has_value)
			options.idle = parse_count(argv[++i], "--idle");
		else if (arg == "--persist")
			options.persist = true;
		else if (arg == "--stdin-eof")
			options.stdin_eof = true;
		else
			usage(("unknown or incomplete option " + arg).c_str());
	}
	return options;
}

// Open a pseudo-terminal in raw mode; return its master and set `slave` and `path`.
int open_terminal(int &slave, std::string &path) {
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0) fail("posix_openpt failed");
	if (grantpt(master) < 0 || unlockpt(master) < 0) fail("cannot unlock the pseudo-terminal");
	const char *name = ptsname(master);
	if (!name) fail("ptsname failed");
	path = name;
	slave = open(name, O_RDWR | O_NOCTTY);
	if (slave < 0) fail("cannot open the pseudo-terminal's slave");
	// Raw: no echo, no line editing, no translation of CR/LF or of control bytes. The frames
	// are binary, so any processing would corrupt them.
	struct termios mode;
	if (tcgetattr(slave, &mode) < 0) fail("tcgetattr failed");
	cfmakeraw(&mode);
	if (tcsetattr(slave, TCSANOW, &mode) < 0) fail("tcsetattr failed");
	int flags = fcntl(master, F_GETFL);
	if (flags < 0 || fcntl(master, F_SETFL, flags | O_NONBLOCK) < 0) fail("fcntl failed");
	return master;
}

class Board {
	static constexpr uint32_t DIVISOR = FPGAC_DIVISOR;
	// Bytes the board may have sent that the host has not read yet, before the oldest are
	// lost: a real board's USB UART and the host's driver buffer about as much.
	static constexpr size_t OUT_LIMIT = 1 << 20;
	// Bytes read from the host ahead of the line: enough to keep it busy between reads.
	static constexpr size_t IN_AHEAD = 1 << 14;

	cxxrtl_design::FPGAC_BOARD top;
	const Options options;
	int master, slave;
	Line line_in, line_out;
	Queue in, out;

	uint64_t cycle = 0, bytes_in = 0, bytes_out = 0, framing_errors = 0, overflow = 0;
	uint64_t first_in_cycle = 0, last_out_cycle = 0;
	bool host_seen = false, hung_up = false;

	// Shifting onto rx: the frame's remaining bits (start, 8 data, stop), least significant
	// first, and the cycles left of the current bit.
	uint32_t rx_frame = 0, rx_bits = 0, rx_left = 0;

	// Sampling tx: waiting for a start bit, inside a byte, or waiting for the line to go high
	// again after a framing error.
	enum { TX_IDLE, TX_BYTE, TX_WAIT_HIGH } tx_state = TX_IDLE;
	uint32_t tx_bit = 0, tx_left = 0, tx_byte = 0;

	// One clock cycle. Nothing in the design acts on the falling edge, so that edge is only
	// committed, not evaluated: one evaluation of the design per cycle instead of two. The
	// rising edge's evaluation sees `rx` as the flip-flops that sample it must.
	void clock(bool rx) {
		drive(top.FPGAC_RX).set<bool>(rx);
		drive(top.FPGAC_CLK).set<bool>(false);
		top.commit();
		drive(top.FPGAC_CLK).set<bool>(true);
		top.step();
		cycle++;
	}

	// Start the next byte from the host on rx, if one is waiting (the line may lose it).
	void next_rx_byte() {
		while (!in.empty()) {
			uint8_t byte = in.pop();
			if (!line_in.carry(byte)) continue;
			if (first_in_cycle == 0) first_in_cycle = cycle + 1;
			rx_frame = (uint32_t)byte << 1 | 1u << 9;
			rx_bits = 10;
			rx_left = DIVISOR;
			return;
		}
	}

	// Advance the receiver of tx by the cycle just simulated, which drove tx to `level`.
	void sample_tx(bool level) {
		switch (tx_state) {
		case TX_IDLE:
			if (!level) {
				tx_state = TX_BYTE;
				tx_bit = 0;
				tx_byte = 0;
				tx_left = DIVISOR / 2;
			}
			return;
		case TX_WAIT_HIGH:
			if (level) tx_state = TX_IDLE;
			return;
		case TX_BYTE:
			if (--tx_left) return;
			tx_left = DIVISOR;
			if (tx_bit == 0) {
				// A start bit that is over by mid-bit was a glitch.
				tx_state = level ? TX_IDLE : TX_BYTE;
			} else if (tx_bit <= 8) {
				tx_byte |= (uint32_t)level << (tx_bit - 1);
			} else if (level) {
				bytes_out++;
				last_out_cycle = cycle + DIVISOR - DIVISOR / 2;
				uint8_t byte = (uint8_t)tx_byte;
				if (line_out.carry(byte)) {
					if (out.size() < OUT_LIMIT)
						out.push(&byte, 1);
					else
						overflow++;
				}
				tx_state = TX_IDLE;
			} else {
				framing_errors++;
				tx_state = TX_WAIT_HIGH;
			}
			tx_bit++;
			return;
		}
	}

	// Write what the board sent, and read what the host wrote, without blocking.
	void exchange() {
		while (!out.empty()) {
			ssize_t n = write(master, out.data(), out.size());
			if (n > 0) {
				out.consume((size_t)n);
			} else {
				if (n < 0 && errno == EIO) hung_up = true;
				break;
			}
		}
		if (in.size() >= IN_AHEAD) return;
		uint8_t buffer[4096];
		ssize_t n = read(master, buffer, sizeof buffer);
		if (n > 0) {
			in.push(buffer, (size_t)n);
			bytes_in += (uint64_t)n;
			if (!host_seen) {
				host_seen = true;
				// From now on the host holds the terminal open, so closing ours lets its
				// closing reach us as a hang-up.
				if (!options.persist) {
					close(slave);
					slave = -1;
				}
			}
		} else if (n < 0 && errno == EIO) {
			hung_up = true;
		}
	}

	// Wait in poll() until the host writes, or reads when the board's bytes are waiting;
	// return false if the simulation should stop.
	bool wait_for_host() {
		short events = (short)(POLLIN | (out.empty() ? 0 : POLLOUT));
		struct pollfd fds[2] = {{master, events, 0}, {0, POLLIN, 0}};
		nfds_t n = options.stdin_eof ? 2 : 1;
		for (;;) {
			if (stop_signal) return false;
			int ready = poll(fds, n, 1000);
			if (ready < 0) {
				if (errno == EINTR) continue;
				fail("poll failed");
			}
			if (n == 2 && fds[1].revents) {
				char buffer[256];
				if (read(0, buffer, sizeof buffer) <= 0) return false;
			}
			if (fds[0].revents & (POLLIN | POLLOUT)) return true;
			if (fds[0].revents & (POLLHUP | POLLERR)) {
				if (slave < 0) return false;
				// No process has the terminal open but us: nothing to wait for but a signal.
				usleep(100000);
			}
		}
	}

	bool stdin_closed() {
		struct pollfd fd = {0, POLLIN, 0};
		if (poll(&fd, 1, 0) <= 0) return false;
		char buffer[256];
		return read(0, buffer, sizeof buffer) <= 0;
	}

public:
	Board(const Options &options, int master, int slave)
		: options(options), master(master), slave(slave),
		  line_in(options.seed * 2 + 1, options), line_out(options.seed * 2 + 2, options) {}

	void run() {
		auto start = std::chrono::steady_clock::now();
#ifdef FPGAC_RST
		drive(top.FPGAC_RST).set<bool>(false);
#endif
		drive(top.FPGAC_RX).set<bool>(true);
		top.step();
		// Exchange with the host about once per byte time: often enough to keep rx busy and
		// answers flowing, rarely enough that system calls cost little next to simulation.
		const uint64_t every = 10 * (uint64_t)DIVISOR;
		uint64_t next_exchange = 0, idle = 0, exchanges = 0;
		for (;;) {
			if (cycle >= next_exchange) {
				exchange();
				next_exchange = cycle + every;
				if (stop_signal || hung_up) break;
				if (options.stdin_eof && ++exchanges % 4096 == 0 && stdin_closed()) break;
			}
			if (rx_bits == 0) next_rx_byte();
			bool rx = rx_bits ? (rx_frame & 1) : true;
			clock(rx);
			if (rx_bits && --rx_left == 0) {
				rx_frame >>= 1;
				rx_bits--;
				rx_left = DIVISOR;
			}
			bool tx = sense(top.FPGAC_TX).get<bool>();
			sample_tx(tx);
			// Bytes the host does not read do not keep the board busy: they wait in poll().
			if (rx_bits || !in.empty() || tx_state != TX_IDLE || !tx) {
				idle = 0;
			} else if (++idle >= options.idle) {
				if (!wait_for_host()) break;
				idle = 0;
				next_exchange = cycle;
			}
		}
		double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now()
		                                               - start).count();
		fprintf(stderr,
		        "{\"cycles\": %llu, \"clk_hz\": %llu, \"baud\": %llu, \"divisor\": %u, "
		        "\"bytes_in\": %llu, \"bytes_out\": %llu, "
		        "\"corrupted_in\": %llu, \"corrupted_out\": %llu, "
		        "\"dropped_in\": %llu, \"dropped_out\": %llu, "
		        "\"framing_errors\": %llu, \"overflow\": %llu, "
		        "\"first_in_cycle\": %llu, \"last_out_cycle\": %llu, \"seconds\": %.3f}\n",
		        (unsigned long long)cycle, (unsigned long long)(FPGAC_CLK_HZ),
		        (unsigned long long)(FPGAC_BAUD), (unsigned)DIVISOR,
		        (unsigned long long)bytes_in, (unsigned long long)bytes_out,
		        (unsigned long long)line_in.corrupted, (unsigned long long)line_out.corrupted,
		        (unsigned long long)line_in.dropped, (unsigned long long)line_out.dropped,
		        (unsigned long long)framing_errors, (unsigned long long)overflow,
		        (unsigned long long)first_in_cycle, (unsigned long long)last_out_cycle,
		        seconds);
		fflush(stderr);
	}
};

static_assert(FPGAC_DIVISOR >= 2, "the UART needs at least 2 cycles per bit");

}  // namespace

int main(int argc, char **argv) {
	Options options = parse(argc, argv);
	struct sigaction action;
	memset(&action, 0, sizeof action);
	action.sa_handler = on_signal;  // no SA_RESTART: a signal interrupts poll()
	sigemptyset(&action.sa_mask);
	sigaction(SIGTERM, &action, nullptr);
	sigaction(SIGINT, &action, nullptr);
	sigaction(SIGHUP, &action, nullptr);
	int slave;
	std::string path;
	int master = open_terminal(slave, path);
	printf("%s\n", path.c_str());
	fflush(stdout);
	// The board object holds the whole design: too big for some stacks.
	Board *board = new Board(options, master, slave);
	board->run();
	delete board;
	return 0;
}
