// SPDX-License-Identifier: LGPL-2.1-or-later
//
// netsim-bench: measurements on the network simulator (tests/netsim), printed
// as markdown for docs/testing.md and docs/performance.md. Run it through
// bench/netsim.sh (root, namespaces). Not a test: nothing here asserts.
//
//   netsim-bench delay              ping RTTs through the delay line, against
//                                   the configured delay and jitter
//   netsim-bench stream [OPTIONS]   rtcstreamsink -> rtcstreamsrc through a
//                                   rate cap: frames and bitrate delivered
//     --caps LIST      caps in kbit/s, 0 for none (default 0,2000,1000,500,300)
//     --seconds N      length of each run (default 45)
//     --size WxH       video size (default 1280x720), 30 fps
//     --pattern static|moving   videotestsrc's default picture (default) or scrolling
//     --congestion-control off|on|both   rtcstreamsink's (default both, side by side)
//     --loss PCT --delay MS   on the viewer's link as well (default none)
//     --queue MS       the capped link's buffer (default netsim's, 300 ms)
//   netsim-bench ladder [OPTIONS]   producer CPU with viewers spread over the
//                                   default 3-rung ladder (an open link, 800
//                                   and 300 kbit/s a viewer), against one
//                                   encoder for all (video-ladder=1), same run
//     --viewers LIST   viewer counts (default 1,5,20)
//     --seconds N      length of each run (default 40; CPU over the last 15 s)
//     --repeat N       runs of each, interleaved, averaged (default 2)
//   netsim-bench g2g [OPTIONS]      glass to glass, 1280x720 30 fps VP8,
//                                   rtcstreamsrc (adaptive) against bare
//                                   webrtcbin pairs at latency 200, 50, 0, on a
//                                   clean link and under jitter (one-way delay
//                                   J +- J ms, FIFO): capture to render p50/p90,
//                                   pictures rendered and dropped late
//     --jitter LIST    J in ms (default 0,10,30)
//     --receivers LIST adaptive, rtcstream-N (latency=N), bare-N, chromium
//                      (the server's page in headless Chromium: capture to
//                      expected display time; default
//                      adaptive,bare-200,bare-50,bare-0,chromium); adaptive@DIR,
//                      rtcstream-N@DIR, chromium@DIR: that run's producer and
//                      pipeline consumer load the plugin of the build dir DIR
//                      (DIR/plugins), e.g. one from before a change
//     --seconds N      measured per run, after 6 s of warm-up (default 20)
//     --reorder on     jitter that reorders packets (default off: FIFO)
//                      (G2G_DEBUG=1 in the environment: the consumer logs its src's
//                      stats and the pictures whose stamp does not read; G2G_SYNC=0:
//                      pipeline consumers render on arrival, not on the clock;
//                      G2G_DEADLINE=MS: their sink's processing-deadline, default 20;
//                      G2G_SINK_PROPS="NAME=VALUE ...": more properties of the
//                      producer's rtcstreamsink, here and in compare)
//   netsim-bench compare [OPTIONS]  rtcstream (rtcstreamsink -> rtcstreamsrc,
//                                   congestion control on) against a bare
//                                   webrtcbin pair (vp8enc at a fixed 2 Mbit/s,
//                                   webrtcbin latency 200: no congestion
//                                   control), one after the other on the same
//                                   link, 1280x720 30 fps, the g2g bench's
//                                   stamped picture and receivers (rtcstreamsrc
//                                   with its adaptive playout delay): frames
//                                   rendered per second, glass to glass p50/p90
//                                   and received bitrate (IP, at the viewer's
//                                   interface) over the last 15 s, and after a
//                                   cap drop the time until the viewer renders
//                                   24+ fps again (3 s in a row)
//     --cases LIST     cap:KBIT (cap:0: none), loss:PCT (with 20 ms each way:
//                      40 ms of round trip), drop:FROM-TO (kbit/s; the drop after
//                      20 s) (default cap:0,cap:2000,cap:1000,cap:500,cap:300,
//                      loss:1,loss:5,loss:10,drop:4000-500)
//     --senders LIST   rtcstream, bare (the bare pair), rtcstream@DIR: both
//                      ends load the plugin of the build dir DIR (DIR/plugins),
//                      e.g. a copy of the one before a change (default
//                      rtcstream,bare); each case runs them in turn
//     --seconds N      each run, after the drop for drop: cases (default 40)
//     --repeat N       each case's senders again, interleaved (default 1)
//                      (COMPARE_TRACE=1 in the environment: every second on
//                      stderr the frames rendered, the capped link's queue,
//                      the sink's estimate and encoder target, and the
//                      encoder's frame sizes)
//   netsim-bench probe [OPTIONS]    upward probing (rtcstreamsink's
//                                   bandwidth-probing) on and off, the two
//                                   at once on links of their own, 1280x720
//                                   30 fps: after a cap lifts, the seconds
//                                   until the encoder is back at 30 fps and
//                                   until the viewer receives 1.5 Mbit/s (3 s
//                                   in a row), the estimate 5, 10 and 20 s after
//     --cases LIST     thin (150 kbit/s for 30 s, then open), drop (4 Mbit/s,
//                      500 kbit/s from 10 to 24 s, 4 Mbit/s again: the netsim
//                      test's), cap500 (500 kbit/s for 40 s: frames per second
//                      and mean estimate over the last 15 s, what failed probes
//                      cost) (default thin,drop,cap500)
//     --repeat N       runs of each (default 2)
#include "netsim.h"
#include "peers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace netsim;

namespace {

double
percentile (std::vector<double> v, double p)
{
  if (v.empty ())
    return NAN;
  std::sort (v.begin (), v.end ());
  size_t rank = (size_t) std::ceil (p / 100.0 * v.size ());
  return v[std::min (v.size () - 1, rank ? rank - 1 : 0)];
}

// Relays the SDP and ICE ("SIG ..." lines) of a bare webrtcbin pair
// (rtcstream-bench's bl- roles) between its two processes, as
// rtcstream-bench's orchestrator does, until stopped.
class SigRelay {
public:
  SigRelay (Process &a, Process &b)
      : thread_ ([this, &a, &b] {
          auto sig = [] (const std::string &l) { return l.rfind ("SIG ", 0) == 0; };
          while (on_) {
            if (auto l = a.wait_line (sig, 20))
              b.send (*l);
            if (auto l = b.wait_line (sig, 20))
              a.send (*l);
          }
        })
  {
  }
  ~SigRelay () { stop (); }
  void stop ()
  {
    on_ = false;
    if (thread_.joinable ())
      thread_.join ();
  }

private:
  std::atomic<bool> on_ {true};
  std::thread thread_;
};

// --- delay -------------------------------------------------------------------------

void
bench_delay ()
{
  struct Case {
    unsigned delay, jitter;
    bool reorder;
    unsigned load_kbit;  // a UDP stream through the same direction meanwhile
  };
  const Case cases[] = {{0, 0, false, 0}, {10, 0, false, 0}, {50, 0, false, 0},
      {20, 5, false, 0}, {20, 10, false, 0}, {20, 10, true, 0}, {20, 0, false, 20000}};
  printf ("| one-way delay | jitter | reorder | load | configured RTT | min | p50 | p90 | p99 "
          "| max | lost |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Case &c : cases) {
    Network net;
    Host &a = net.add_host ("a");
    Host &b = net.add_host ("b");
    Link &l = net.link (a, b, {.delay_ms = c.delay, .jitter_ms = c.jitter,
        .reorder = c.reorder});
    std::unique_ptr<Process> load;
    if (c.load_kbit) {
      // A receiver that drops everything and a paced sender, both in netsim.
      int rx = net.socket (b, AF_INET, SOCK_DGRAM);
      sockaddr_in at {};
      at.sin_family = AF_INET;
      at.sin_port = htons (5002);
      inet_pton (AF_INET, l.address (b).c_str (), &at.sin_addr);
      bind (rx, (sockaddr *) &at, sizeof at);
      int tx = net.socket (a, AF_INET, SOCK_DGRAM);
      std::thread ([tx, at, kbit = c.load_kbit, rx] {
        std::vector<char> d (1200, 'l');
        auto gap = std::chrono::nanoseconds ((long long) (1200 * 8 * 1e6 / kbit));
        auto next = std::chrono::steady_clock::now ();
        auto end = next + std::chrono::seconds (6);
        while (next < end) {
          std::this_thread::sleep_until (next);
          sendto (tx, d.data (), d.size (), 0, (const sockaddr *) &at, sizeof at);
          next += gap;
        }
        close (tx);
        close (rx);
      }).detach ();
    }
    net.ping (b, a.address (), 1);  // ARP first: its own round trip is not the delay line's
    std::vector<double> rtt = net.ping (b, a.address (), 400, 10);
    printf ("| %u ms | %u ms | %s | %s | %u ms | %.2f | %.2f | %.2f | %.2f | %.2f | %zu/400 |\n",
        c.delay, c.jitter, c.reorder ? "yes" : "no",
        c.load_kbit ? (std::to_string (c.load_kbit / 1000) + " Mbit/s").c_str () : "-",
        2 * c.delay, percentile (rtt, 0), percentile (rtt, 50), percentile (rtt, 90),
        percentile (rtt, 99), percentile (rtt, 100), 400 - rtt.size ());
    fflush (stdout);
    std::this_thread::sleep_for (std::chrono::seconds (c.load_kbit ? 3 : 0));
  }
}

// --- stream ------------------------------------------------------------------------

struct StreamOptions {
  std::vector<unsigned> caps = {0, 2000, 1000, 500, 300};
  int seconds = 45;
  std::string size = "1280x720";
  double loss = 0;
  unsigned delay = 0;
  unsigned queue = LinkConfig {}.queue_ms;
  bool moving = false;  // scroll the pattern: every frame needs new bits
  std::vector<bool> congestion_control = {false, true};
};

struct StreamResult {
  uint64_t frames = 0;
  double fps_last = 0, received_kbit = 0, sent_kbit = 0, estimate_kbit = 0;
  std::string picture = "-";  // what the encoder was given at the end
};

// One run: a producer and a viewer through a link capped at cap kbit/s.
StreamResult
run_stream (const StreamOptions &o, unsigned cap, bool congestion_control)
{
  std::string w = o.size.substr (0, o.size.find ('x')), h = o.size.substr (o.size.find ('x') + 1);
  StreamResult r;
  Network net;
  Host &producer = net.add_host ("producer");
  Host &viewer = net.add_host ("viewer");
  net.link (producer, viewer, {.rate_kbit = cap, .queue_ms = o.queue, .loss_pct = o.loss,
      .delay_ms = o.delay});
  SignallingServer server (net, producer);
  GstProcess sink (net, producer,
      std::string ("videotestsrc is-live=true ") + (o.moving ? "horizontal-speed=2" : "") +
          " ! video/x-raw,width=" + w + ",height=" + h +
          ",framerate=30/1 ! rtcstreamsink name=sink congestion-control=" +
          (congestion_control ? "true" : "false") + " uri=" + server.uri ("cam"));
  if (!sink.wait_registered (20000)) {
    fprintf (stderr, "producer did not register: %s\n", sink.messages ().c_str ());
    return r;
  }
  // Encoded frames are counted at `enc` (received bitrate), decoded ones at `out`.
  GstProcess src (net, viewer, "rtcstreamsrc uri=" + server.uri ("cam") +
      " ! video/x-vp8 ! identity name=enc ! vp8dec ! fakesink name=out", {"enc", "out"});
  auto start = std::chrono::steady_clock::now ();
  auto at = [&] (int s) { std::this_thread::sleep_until (start + std::chrono::seconds (s)); };
  at (o.seconds - 15);
  uint64_t bytes_a = 0, bytes_b = 0;
  uint64_t frames_a = src.frames ("out");
  src.frames ("enc", &bytes_a);
  double sent_a = stats_number (sink.stats ("sink"), "bytes-sent");
  // The estimate, sampled every 3 s over the window.
  double estimates = 0;
  int samples = 0;
  for (int s = o.seconds - 12; s <= o.seconds; s += 3) {
    at (s);
    double e = stats_number (sink.stats ("sink"), "bandwidth-estimate");
    if (!std::isnan (e)) {
      estimates += e;
      samples++;
    }
  }
  r.frames = src.frames ("out");
  src.frames ("enc", &bytes_b);
  double sent_b = stats_number (sink.stats ("sink"), "bytes-sent");
  r.fps_last = (r.frames - frames_a) / 15.0;
  r.received_kbit = (bytes_b - bytes_a) * 8 / 15.0 / 1000;
  r.sent_kbit = (sent_b - sent_a) * 8 / 15.0 / 1000;
  r.estimate_kbit = samples ? estimates / samples / 1000 : 0;
  // The picture size given to the encoder (its capsfilter inside the sink).
  std::string caps = sink.caps ("video_0-VP8-rawcaps");
  size_t wpos = caps.find ("width=(int)"), hpos = caps.find ("height=(int)");
  if (wpos != std::string::npos && hpos != std::string::npos)
    r.picture = std::to_string (atoi (caps.c_str () + wpos + 11)) + "x" +
        std::to_string (atoi (caps.c_str () + hpos + 12));
  return r;
}

void
bench_stream (const StreamOptions &o)
{
  printf ("| cap | congestion control | frames decoded (%d s) | fps (last 15 s) | received "
          "kbit/s (last 15 s) | sent kbit/s (last 15 s) | estimate kbit/s (last 15 s) | "
          "picture at the end |\n|---|---|---|---|---|---|---|---|\n", o.seconds);
  for (unsigned cap : o.caps) {
    for (bool cc : o.congestion_control) {
      StreamResult r = run_stream (o, cap, cc);
      std::string label = cap ? std::to_string (cap) + " kbit/s" : "none";
      printf ("| %s | %s | %llu | %.1f | %.0f | %.0f | %s | %s |\n", label.c_str (),
          cc ? "on" : "off", (unsigned long long) r.frames, r.fps_last, r.received_kbit,
          r.sent_kbit, cc ? std::to_string ((int) r.estimate_kbit).c_str () : "-",
          r.picture.c_str ());
      fflush (stdout);
    }
  }
}

// --- compare -----------------------------------------------------------------------

struct CompareCase {
  std::string label;
  LinkConfig link;
  unsigned drop_to = 0;  // kbit/s after 20 s; 0: no drop
};

struct CompareResult {
  bool ok = false;
  std::string why;
  double fps = NAN, kbit = NAN;
  double adapt_s = NAN;  // drop cases: seconds until 24+ fps again; inf: not within the run
  double p50 = NAN, p90 = NAN;  // glass to glass (ms) over the last 15 s
  double delay = -1;            // rtcstreamsrc's mean playout delay then (ms)
  std::string picture = "-";
};

// Bytes the interface dev of host received so far (/proc/net/dev read
// inside the host's namespace), 0 if unknown.
uint64_t
rx_bytes (Network &net, const Host &host, const std::string &dev)
{
  std::string out;
  net.run (host, {"cat", "/proc/net/dev"}, &out);
  size_t at = out.find (dev + ":");
  return at == std::string::npos ? 0 : strtoull (out.c_str () + at + dev.size () + 1, nullptr, 10);
}

// COMPARE_TRACE=1: every second, on stderr, the frames rendered that second,
// the capped link's queue (tc's backlog in the link's namespace) and the
// sink's view of the consumer (estimate, encoder target, loss, congestion).
void
trace_second (Link &link, Process *prod, int s, uint64_t frames_delta)
{
  std::string backlog = "-";
  std::string out;
  const std::string cmd = "ip netns exec " + link.netns () + " tc -s qdisc show 2>/dev/null";
  if (FILE *f = popen (cmd.c_str (), "r")) {
    char buf[512];
    while (fgets (buf, sizeof buf, f))
      out += buf;
    pclose (f);
  }
  // The producer is the link's a end: its packets queue at lb.
  size_t at = out.find ("dev lb root");
  std::string dropped = "-";
  if (at != std::string::npos && out.find ("dropped ", at) != std::string::npos) {
    size_t d = out.find ("dropped ", at) + 8;
    dropped = out.substr (d, out.find (',', d) - d);
  }
  if (at != std::string::npos && (at = out.find ("backlog ", at)) != std::string::npos)
    backlog = out.substr (at + 8, out.find (' ', at + 8) - at - 8) + " (dropped " + dropped + ")";
  std::string stats;
  if (prod && prod->send ("sink-stats"))
    if (auto line = prod->wait_prefix ("SINKSTATS ", 5000))
      stats = line->substr (10);
  auto num = [&] (const char *f) { return stats_number (stats, f); };
  std::string frames;
  if (prod && prod->send ("frames"))
    if (auto line = prod->wait_prefix ("FRAMES ", 5000))
      frames = line->substr (7);
  fprintf (stderr, "TRACE %3d s: %3llu fps, queue %s; estimate %.0f target %.0f sent %.0f "
      "loss %.3f; frames %s\n", s, (unsigned long long) frames_delta, backlog.c_str (),
      num ("bandwidth-estimate") / 1000, num ("bitrate-target") / 1000,
      num ("bitrate-sent") / 1000, num ("packet-loss"), frames.c_str ());
}

// SPEC is NAME or NAME@DIR. With @DIR, a function that puts before a
// command what makes it load the plugin of the build dir DIR (DIR/plugins,
// with a registry of its own named registry), e.g. a copy of the one before
// a change; without, one that leaves the command as it is.
std::function<std::vector<std::string> (std::vector<std::string>)>
plugin_of (const std::string &spec, const std::string &registry)
{
  std::vector<std::string> env;
  if (const size_t at = spec.find ('@'); at != std::string::npos) {
    const std::string dir = spec.substr (at + 1);
    env = {"env", "GST_PLUGIN_PATH=" + dir + "/plugins", "GST_REGISTRY=" + dir + "/" + registry};
  }
  return [env] (std::vector<std::string> argv) {
    argv.insert (argv.begin (), env.begin (), env.end ());
    return argv;
  };
}

// sender: "bare" (a bare webrtcbin pair), "rtcstream", or "rtcstream@DIR":
// both ends load the plugin of the build dir DIR (DIR/plugins), e.g. a
// copy of the one before a change.
CompareResult
run_compare (const CompareCase &c, const std::string &sender, int seconds)
{
  CompareResult r;
  const bool bare = sender == "bare";
  const auto with_env = plugin_of (sender, "compare-registry.bin");
  const char *bench = getenv ("RTCSTREAM_BENCH");
  if (bare && !bench) {
    r.why = "RTCSTREAM_BENCH is not set";
    return r;
  }
  Network net;
  Host &producer = net.add_host ("producer");
  Host &viewer = net.add_host ("viewer");
  Link &link = net.link (producer, viewer, c.link);
  std::unique_ptr<SignallingServer> server;
  std::unique_ptr<Process> prod, cons;
  std::unique_ptr<SigRelay> relay;
  // Both are rtcstream-bench's stamping roles (the g2g bench's): the same
  // picture, and the receiver renders on the clock and reads each stamp.
  if (bare) {
    prod = net.spawn (producer, {bench, "g2g-bl-producer"});
    cons = net.spawn (viewer, {bench, "g2g-bl-consumer", "200"});
    relay = std::make_unique<SigRelay> (*prod, *cons);
  } else {
    server = std::make_unique<SignallingServer> (net, producer);
    prod = net.spawn (producer, with_env ({bench, "g2g-producer", server->uri ("cam")}));
    if (!prod->wait_prefix ("READY", 20000)) {
      r.why = "the producer did not register";
      return r;
    }
    cons = net.spawn (viewer, with_env ({bench, "g2g-consumer", server->uri ("cam"), "-1"}));
  }
  const bool trace = getenv ("COMPARE_TRACE") != nullptr;
  std::function<uint64_t ()> frames = [&] () -> uint64_t {
    if (!cons->send ("count"))
      return 0;
    auto l = cons->wait_prefix ("COUNT ", 5000);
    return l ? strtoull (l->c_str () + 6, nullptr, 10) : 0;
  };
  auto start = std::chrono::steady_clock::now ();
  auto at = [&] (int s) { std::this_thread::sleep_until (start + std::chrono::seconds (s)); };
  const int end = c.drop_to ? 20 + seconds : seconds;
  uint64_t f0 = 0, b0 = 0;
  // Every second (tracing, or from the drop on: 3 s in a row at 24+ fps is
  // adapted); otherwise only at the start of the last 15 s.
  uint64_t prev = 0;
  int good = 0;
  if (c.drop_to)
    r.adapt_s = INFINITY;
  for (int s = 1; s < end; s++) {
    if (!trace && !(c.drop_to && s >= 20) && s != end - 15)
      continue;
    at (s);
    if (c.drop_to && s == 20) {
      LinkConfig low = c.link;
      low.rate_kbit = c.drop_to;
      net.set_direction (link, producer, low);
    }
    uint64_t now = frames ();
    if (trace)
      trace_second (link, bare ? nullptr : prod.get (), s, now - prev);
    if (c.drop_to && s > 20) {
      good = now - prev >= 24 ? good + 1 : 0;
      if (good == 3 && std::isinf (r.adapt_s))
        r.adapt_s = s - 3 - 20;
    }
    prev = now;
    if (s == end - 15) {
      f0 = now;
      b0 = rx_bytes (net, viewer, link.interface ());
      cons->send ("reset");
    }
  }
  at (end);
  uint64_t f1 = frames (), b1 = rx_bytes (net, viewer, link.interface ());
  r.fps = (f1 - f0) / 15.0;
  r.kbit = (b1 - b0) * 8 / 15.0 / 1000;
  cons->send ("g2g");
  if (auto line = cons->wait_prefix ("G2G ", 5000)) {
    std::istringstream in (line->substr (4));
    double rendered = 0, expected = 0, dropped = 0, p99 = 0, max = 0;
    in >> rendered >> expected >> dropped >> r.p50 >> r.p90 >> p99 >> max >> r.delay;
    if (rendered <= 0)
      r.p50 = r.p90 = NAN;
  }
  if (!bare && prod->send ("sink-stats")) {
    auto line = prod->wait_prefix ("SINKSTATS ", 5000);
    std::string stats = line ? line->substr (10) : "";
    double w = stats_number (stats, "picture-width"), h = stats_number (stats, "picture-height");
    double fps = stats_number (stats, "picture-framerate");
    if (!std::isnan (w))
      r.picture = std::to_string ((int) w) + "x" + std::to_string ((int) h) + " " +
          std::to_string ((int) fps) + " fps";
  }
  r.ok = true;
  if (relay)
    relay->stop ();
  cons->stop ();
  prod->stop ();
  return r;
}

void
bench_compare (const std::vector<std::string> &cases, const std::vector<std::string> &senders,
    int seconds, int repeat)
{
  printf ("| link | sender | fps rendered (last 15 s) | glass to glass p50 / p90 ms (playout delay) | received "
          "kbit/s (last 15 s) | time to 24+ fps after the drop | picture at the end |\n"
          "|---|---|---|---|---|---|---|\n");
  for (const std::string &spec : cases) {
    CompareCase c;
    std::string kind = spec.substr (0, spec.find (':')), v = spec.substr (spec.find (':') + 1);
    if (kind == "cap") {
      c.link.rate_kbit = (unsigned) std::stoul (v);
      c.label = c.link.rate_kbit ? v + " kbit/s" : "no cap";
    } else if (kind == "loss") {
      c.link.loss_pct = std::stod (v);
      c.link.delay_ms = 20;
      c.label = v + "% loss each way, 40 ms RTT";
    } else if (kind == "drop") {
      c.link.rate_kbit = (unsigned) std::stoul (v.substr (0, v.find ('-')));
      c.drop_to = (unsigned) std::stoul (v.substr (v.find ('-') + 1));
      c.label = std::to_string (c.link.rate_kbit) + " -> " + std::to_string (c.drop_to) +
          " kbit/s";
    } else {
      fprintf (stderr, "netsim-bench: unknown case %s\n", spec.c_str ());
      continue;
    }
    for (int round = 0; round < repeat; round++)
    for (const std::string &sender : senders) {
      const bool bare = sender == "bare";
      CompareResult r = run_compare (c, sender, seconds);
      const std::string who = bare ? "bare webrtcbin pair" : sender;
      char load[64] = "";
      if (FILE *f = fopen ("/proc/loadavg", "r")) {
        double l1 = 0;
        if (fscanf (f, "%lf", &l1) == 1)
          snprintf (load, sizeof load, " (load %.1f)", l1);
        fclose (f);
      }
      if (!r.ok) {
        printf ("| %s | %s%s | failed: %s | | | | |\n", c.label.c_str (), who.c_str (), load,
            r.why.c_str ());
      } else {
        std::string adapt = !c.drop_to ? "-" : std::isinf (r.adapt_s)
            ? "not within " + std::to_string (seconds) + " s"
            : std::to_string ((int) r.adapt_s) + " s";
        char g2g[64] = "-";
        if (!std::isnan (r.p50))
          snprintf (g2g, sizeof g2g, r.delay >= 0 ? "%.0f / %.0f (delay %.0f)" : "%.0f / %.0f",
              r.p50, r.p90, r.delay);
        printf ("| %s | %s%s | %.1f | %s | %.0f | %s | %s |\n", c.label.c_str (), who.c_str (), load,
            r.fps, g2g,
            r.kbit, adapt.c_str (), bare ? "1280x720 30 fps" : r.picture.c_str ());
      }
      fflush (stdout);
    }
  }
}

// --- ladder ------------------------------------------------------------------------

struct LadderResult {
  double cpu_pct = NAN;   // producer, over the last 15 s
  double encoders = NAN;  // the sink's stats at the end
  int on[3] = {0, 0, 0};  // viewers per rendition at the end (full, half, quarter)
  double fps = 0;         // received frames per second per viewer, last 15 s
  double fps_thin = 0;    // the same for the 300 kbit/s viewers
};

// n viewers of one 1280x720 30 fps producer: viewer i on an open link, or
// behind 800 kbit/s or 300 kbit/s (i % 3), each class in one host behind one
// link whose cap is its viewers' sum. The viewers do not decode (their CPU
// is not measured, and the machine is small): they count encoded frames.
LadderResult
run_ladder (unsigned n, int seconds, bool ladder)
{
  LadderResult r;
  Network net;
  Host &producer = net.add_host ("producer");
  const unsigned per_viewer_kbit[3] = {0, 800, 300};
  unsigned in_class[3] = {0, 0, 0};
  for (unsigned i = 0; i < n; i++)
    in_class[i % 3]++;
  Host *hosts[3] = {nullptr, nullptr, nullptr};
  for (int k = 0; k < 3; k++) {
    if (!in_class[k])
      continue;
    hosts[k] = &net.add_host ("v" + std::to_string (k));
    net.link (producer, *hosts[k], {.rate_kbit = per_viewer_kbit[k] * in_class[k]});
  }
  SignallingServer server (net, producer);
  GstProcess sink (net, producer,
      std::string ("videotestsrc is-live=true ! video/x-raw,width=1280,height=720,framerate=30/1 ! "
                   "rtcstreamsink name=sink video-ladder=") + (ladder ? "1,2,4" : "1") +
          " uri=" + server.uri ("cam"));
  if (!sink.wait_registered (20000)) {
    fprintf (stderr, "producer did not register: %s\n", sink.messages ().c_str ());
    return r;
  }
  std::vector<std::unique_ptr<GstProcess>> viewers;
  std::vector<int> klass;
  for (unsigned i = 0; i < n; i++) {
    viewers.push_back (std::make_unique<GstProcess> (net, *hosts[i % 3],
        "rtcstreamsrc uri=" + server.uri ("cam") + " ! video/x-vp8 ! fakesink name=enc",
        std::vector<std::string> {"enc"}));
    klass.push_back (i % 3);
  }
  auto start = std::chrono::steady_clock::now ();
  auto at = [&] (int s) { std::this_thread::sleep_until (start + std::chrono::seconds (s)); };
  at (seconds - 15);
  pid_t pid = sink.process ().pid ();
  double cpu_a = cpu_seconds (pid);
  std::vector<uint64_t> frames_a;
  for (auto &v : viewers)
    frames_a.push_back (v->frames ("enc"));
  at (seconds);
  double cpu_b = cpu_seconds (pid);
  r.cpu_pct = (cpu_b - cpu_a) / 15.0 * 100;
  unsigned thin = 0;
  for (size_t i = 0; i < viewers.size (); i++) {
    double fps = (viewers[i]->frames ("enc") - frames_a[i]) / 15.0;
    r.fps += fps / n;
    if (klass[i] == 2) {
      r.fps_thin += fps;
      thin++;
    }
  }
  r.fps_thin = thin ? r.fps_thin / thin : NAN;
  std::string stats = sink.stats ("sink");
  r.encoders = stats_number (stats, "encoders");
  for (int k : int_fields (stats, "rendition"))
    if (k >= 0 && k < 3)
      r.on[k]++;
  return r;
}

// The mean of runs, field by field.
LadderResult
mean_of (const std::vector<LadderResult> &runs)
{
  LadderResult m;
  m.cpu_pct = m.encoders = m.fps_thin = 0;
  for (const LadderResult &r : runs) {
    m.cpu_pct += r.cpu_pct / runs.size ();
    m.encoders += r.encoders / runs.size ();
    m.fps += r.fps / runs.size ();
    m.fps_thin += r.fps_thin / runs.size ();
    for (int k = 0; k < 3; k++)
      m.on[k] += r.on[k];
  }
  for (int k = 0; k < 3; k++)
    m.on[k] = (int) std::lround ((double) m.on[k] / runs.size ());
  return m;
}

void
bench_ladder (const std::vector<unsigned> &counts, int seconds, int repeat)
{
  printf ("| viewers (open / 800k / 300k) | encoding | producer CPU %% (last 15 s, mean of %d) | ratio | "
          "encoders | viewers on full / half / quarter | fps per viewer | fps, 300k viewers |\n"
          "|---|---|---|---|---|---|---|---|\n", repeat);
  for (unsigned n : counts) {
    std::vector<LadderResult> singles, ladders;
    for (int i = 0; i < repeat; i++) {
      singles.push_back (run_ladder (n, seconds, false));
      ladders.push_back (run_ladder (n, seconds, true));
      fprintf (stderr, "%u viewers, run %d: producer CPU %.0f%% with one encoder, %.0f%% with "
          "the ladder\n", n, i + 1, singles.back ().cpu_pct, ladders.back ().cpu_pct);
    }
    LadderResult single = mean_of (singles), ladder = mean_of (ladders);
    std::string split = std::to_string ((n + 2) / 3) + " / " + std::to_string ((n + 1) / 3) +
        " / " + std::to_string (n / 3);
    for (int i = 0; i < 2; i++) {
      const LadderResult &r = i ? ladder : single;
      printf ("| %u (%s) | %s | %.0f | %.2f | %.0f | %d / %d / %d | %.1f | %s |\n", n,
          split.c_str (), i ? "3-rung ladder" : "one encoder", r.cpu_pct,
          r.cpu_pct / single.cpu_pct, r.encoders, r.on[0], r.on[1], r.on[2], r.fps,
          std::isnan (r.fps_thin) ? "-" : std::to_string (r.fps_thin).substr (0, 4).c_str ());
      fflush (stdout);
    }
  }
}

// --- g2g ---------------------------------------------------------------------------

struct G2gOptions {
  std::vector<unsigned> jitter = {0, 10, 30};
  std::vector<std::string> receivers = {"adaptive", "bare-200", "bare-50", "bare-0", "chromium"};
  int seconds = 20;
  bool reorder = false;
};

struct G2gResult {
  bool ok = false;
  double rendered = 0, expected = 0, dropped = 0, p50 = NAN, p90 = NAN, p99 = NAN, max = NAN;
  double target = -1, unreadable = 0;
  double arrival = -1, wait = NAN;  // medians: capture to the sink's pad, its clock wait
  std::string chromium;             // Chromium's getStats per frame (ms)
  // Inside the producer, medians from the stamp (ms): out of the encoder's
  // queue, out of the encoder, out of the payloader (-1: not known).
  double stage_n = 0, stage_queue = -1, stage_encode = -1, stage_pay = -1;
  std::string why;
};

// The roles are rtcstream-bench's ($RTCSTREAM_BENCH), started inside the hosts.
G2gResult
run_g2g (const G2gOptions &o, unsigned jitter, const std::string &receiver)
{
  G2gResult r;
  const char *bench = getenv ("RTCSTREAM_BENCH");
  if (!bench) {
    r.why = "RTCSTREAM_BENCH is not set";
    return r;
  }
  Network net;
  Host &producer = net.add_host ("producer");
  Host &viewer = net.add_host ("viewer");
  net.link (producer, viewer, {.delay_ms = jitter, .jitter_ms = jitter, .reorder = o.reorder});
  const bool bare = receiver.rfind ("bare-", 0) == 0;
  // NAME@DIR: the producer and a pipeline consumer load the plugin of
  // another build dir (its plugins/), e.g. a copy of the one before a change.
  const std::string name = receiver.substr (0, receiver.find ('@'));
  const auto with_from = plugin_of (receiver, "g2g-registry.bin");
  std::unique_ptr<SignallingServer> server;
  std::unique_ptr<Process> prod, cons;
  std::unique_ptr<SigRelay> relay;
  if (bare) {
    prod = net.spawn (producer, {bench, "g2g-bl-producer"});
    cons = net.spawn (viewer, {bench, "g2g-bl-consumer", receiver.substr (5)});
    relay = std::make_unique<SigRelay> (*prod, *cons);
  } else {
    server = std::make_unique<SignallingServer> (net, producer);
    prod = net.spawn (producer, with_from ({bench, "g2g-producer", server->uri ("cam")}));
    if (!prod->wait_prefix ("READY", 20000)) {
      r.why = "the producer did not register";
      return r;
    }
    if (name == "chromium") {
      // The server's page in headless Chromium, which reads the stamps
      // (tests/netsim/chromium-viewer.mjs --g2g).
      const char *node = getenv ("NETSIM_NODE"), *script = getenv ("NETSIM_CHROMIUM_VIEWER");
      if (!node || !*node || !script) {
        r.why = "NETSIM_NODE / NETSIM_CHROMIUM_VIEWER are not set (node missing?)";
        return r;
      }
      cons = net.spawn (viewer, {"env", "RTCSTREAM_TEST_WATCHDOG_MS=600000", node, script,
          server->http (), "cam", "--g2g"});
      auto first = cons->wait_line ([] (const std::string &l) {
        return l.rfind ("stats ", 0) == 0 || l.rfind ("skip ", 0) == 0 ||
            l.rfind ("error ", 0) == 0;
      }, 60000);
      if (!first || first->rfind ("stats ", 0) != 0) {
        r.why = first ? *first : "no word from Chromium in 60 s";
        return r;
      }
    } else {
      const std::string latency = name == "adaptive" ? "-1" : name.substr (10);
      cons = net.spawn (viewer, with_from ({bench, "g2g-consumer", server->uri ("cam"), latency}));
    }
  }
  std::this_thread::sleep_for (std::chrono::seconds (6));
  cons->send ("reset");
  std::this_thread::sleep_for (std::chrono::seconds (o.seconds));
  cons->send ("g2g");
  auto line = cons->wait_prefix ("G2G ", 5000);
  if (line && name == "chromium") {
    // Chromium's own figures per frame (tests/netsim/chromium-viewer.mjs).
    if (auto c = cons->wait_prefix ("CHROMIUM ", 2000))
      r.chromium = c->substr (9);
  }
  if (!bare) {
    // Where the producer's share went (rtcstream-bench's Stages).
    prod->send ("stages");
    if (auto st = prod->wait_prefix ("STAGES ", 5000)) {
      std::istringstream sin (st->substr (7));
      sin >> r.stage_n >> r.stage_queue >> r.stage_encode >> r.stage_pay;
    }
  }
  if (relay)
    relay->stop ();
  if (!line) {
    r.why = "no answer from the consumer";
    return r;
  }
  std::istringstream in (line->substr (4));
  in >> r.rendered >> r.expected >> r.dropped >> r.p50 >> r.p90 >> r.p99 >> r.max >> r.target >>
      r.unreadable >> r.arrival >> r.wait;
  r.ok = r.rendered > 0;
  if (!r.ok)
    r.why = "nothing rendered";
  if (r.unreadable > 0) {
    fprintf (stderr, "%s, jitter %u: %.0f pictures without a readable stamp\n", receiver.c_str (),
        jitter, r.unreadable);
    for (const std::string &l : cons->lines ())
      if (l.rfind ("unreadable: ", 0) == 0)
        fprintf (stderr, "  %s\n", l.c_str ());
  }
  cons->stop ();
  prod->stop ();
  return r;
}

void
bench_g2g (const G2gOptions &o)
{
  printf ("| link (one-way) | receiver | p50 ms | p90 ms | p99 ms | rendered / made | dropped "
          "late by the sink | playout delay (mean) | in the producer: queue / encoder / "
          "payloader out (median ms) |\n|---|---|---|---|---|---|---|---|---|\n");
  for (unsigned j : o.jitter) {
    for (const std::string &rcv : o.receivers) {
      G2gResult r = run_g2g (o, j, rcv);
      std::string link = j ? std::to_string (j) + " ± " + std::to_string (j) + " ms" +
              (o.reorder ? ", reordering" : "") : "clean";
      const size_t at = rcv.find ('@');
      const std::string name = rcv.substr (0, at);
      const std::string from = at == std::string::npos ? "" : ", " + rcv.substr (at + 1);
      std::string label = name == "adaptive" ? "rtcstreamsrc (adaptive" + from + ")"
          : name == "chromium" ? "Chromium (server's page, playout-delay 0" + from + ")"
          : rcv.rfind ("bare-", 0) == 0 ? "bare webrtcbin latency=" + rcv.substr (5)
          : "rtcstreamsrc latency=" + name.substr (10) + from;
      if (!r.ok) {
        printf ("| %s | %s | failed: %s | | | | | | |\n", link.c_str (), label.c_str (),
            r.why.c_str ());
      } else {
        char stages[96] = "-";
        if (r.stage_n > 0)
          snprintf (stages, sizeof stages, "%.1f / %.1f / %.1f", r.stage_queue, r.stage_encode,
              r.stage_pay);
        // Where Chromium's time went (its getStats), and with G2G_DEBUG where a
        // pipeline consumer's went, on stderr.
        if (!r.chromium.empty ())
          fprintf (stderr, "%s, %s: per frame (ms): %s\n", link.c_str (), label.c_str (),
              r.chromium.c_str ());
        if (r.arrival >= 0 && getenv ("G2G_DEBUG"))
          fprintf (stderr, "%s: capture to the sink's pad %.1f ms, then its clock wait %.1f ms "
              "(medians)\n", label.c_str (), r.arrival, r.wait);
        printf ("| %s | %s | %.1f | %.1f | %.1f | %.0f / %.0f | %.0f | %s | %s |\n",
            link.c_str (), label.c_str (), r.p50, r.p90, r.p99, r.rendered, r.expected, r.dropped,
            r.target >= 0 ? (std::to_string ((int) std::lround (r.target)) + " ms").c_str ()
                          : "-", stages);
      }
      fflush (stdout);
    }
  }
}

}  // namespace

// --- probe --------------------------------------------------------------------------

struct ProbeResult {
  std::string why;     // set: the run failed
  double fps_s = NAN;  // seconds after the lift until picture-framerate 30 (inf: not in the run)
  double kbit_s = NAN;  // ... until 1500+ kbit/s received over 3 s (inf: not in the run)
  double est5 = NAN, est10 = NAN, est20 = NAN;  // estimate (kbit/s) 5, 10, 20 s after
  double kbit_end = NAN;  // received kbit/s over the last 5 s
  double probes = NAN, found = NAN;
  double fps_last = NAN, est_mean = NAN;  // steady: the last 15 s of 40
};

// One viewer of a 1280x720 stream behind a cap that lifts (thin: 150 kbit/s
// for 30 s; drop: 4 Mbit/s, 500 kbit/s from 10 to 24 s), with
// bandwidth-probing on or off; watched for 40 s after the lift. Or (steady)
// behind 500 kbit/s for 40 s: what probes that find nothing cost.
void
run_probe (Network &net, Host &producer, Host &viewer, Link &link, SignallingServer &server,
    const std::string &name, bool thin, bool steady, bool probing, ProbeResult &r)
{
  GstProcess sink (net, producer,
      "videotestsrc is-live=true ! video/x-raw,width=1280,height=720,framerate=30/1 ! "
      "rtcstreamsink name=sink bandwidth-probing=" + std::string (probing ? "true" : "false") +
      " uri=" + server.uri (name));
  if (!sink.wait_registered (20000)) {
    r.why = "producer did not register: " + sink.messages ();
    return;
  }
  GstProcess src (net, viewer, "rtcstreamsrc uri=" + server.uri (name) +
      " ! video/x-vp8 ! identity name=enc ! vp8dec ! fakesink name=out", {"enc", "out"});
  auto start = std::chrono::steady_clock::now ();
  auto at = [&] (double s) {
    std::this_thread::sleep_until (start + std::chrono::milliseconds ((int64_t) (s * 1000)));
  };
  if (steady) {
    // 40 s behind 500 kbit/s: frames and estimate over the last 15 s.
    at (25);
    uint64_t frames = src.frames ("out");
    double sum = 0;
    for (int s = 28; s <= 40; s += 3) {
      at (s);
      sum += stats_number (sink.stats ("sink"), "bandwidth-estimate") / 1000 / 5;
    }
    r.fps_last = (src.frames ("out") - frames) / 15.0;
    r.est_mean = sum;
    std::string stats = sink.stats ("sink");
    r.probes = stats_number (stats, "probes-sent");
    r.found = stats_number (stats, "probes-found-more");
    return;
  }
  int lift = thin ? 30 : 24;
  if (!thin) {
    at (10);
    net.set_direction (link, producer, {.rate_kbit = 500});
  }
  at (lift);
  net.set_direction (link, producer, thin ? LinkConfig {} : LinkConfig {.rate_kbit = 4000});
  std::vector<double> kbit;  // received each second after the lift
  uint64_t last = 0;
  src.frames ("enc", &last);
  for (int s = 1; s <= 40; s++) {
    at (lift + s);
    uint64_t bytes = 0;
    src.frames ("enc", &bytes);
    kbit.push_back ((bytes - last) * 8 / 1000.0);
    last = bytes;
    std::string stats = sink.stats ("sink");
    if (std::isnan (r.fps_s) && stats_number (stats, "picture-framerate") >= 30)
      r.fps_s = s;
    double e = stats_number (stats, "bandwidth-estimate") / 1000;
    if (s == 5)
      r.est5 = e;
    if (s == 10)
      r.est10 = e;
    if (s == 20)
      r.est20 = e;
    if (std::isnan (r.kbit_s) && s >= 3 && (kbit[s - 1] + kbit[s - 2] + kbit[s - 3]) / 3 > 1500)
      r.kbit_s = s;
    if (s == 40) {
      r.probes = stats_number (stats, "probes-sent");
      r.found = stats_number (stats, "probes-found-more");
    }
  }
  r.kbit_end = (kbit[35] + kbit[36] + kbit[37] + kbit[38] + kbit[39]) / 5;
  if (std::isnan (r.fps_s))
    r.fps_s = INFINITY;
  if (std::isnan (r.kbit_s))
    r.kbit_s = INFINITY;
}

void
bench_probe (const std::vector<std::string> &cases, int repeat)
{
  printf ("| case | run | probing | back to 30 fps after (s) | 1.5 Mbit/s received after (s) | "
          "estimate +5/+10/+20 s (kbit/s) | received kbit/s, last 5 s | probes (found more) |\n"
          "|---|---|---|---|---|---|---|---|\n");
  auto secs = [] (double v) {
    return std::isinf (v) ? std::string ("not in 40 s") : std::to_string ((int) v);
  };
  for (const std::string &c : cases) {
    const bool thin = c == "thin", steady = c == "cap500";
    for (int i = 0; i < repeat; i++) {
      // Both at once, each on a link of its own: the same load on both.
      Network net;
      Host &producer = net.add_host ("producer");
      Host &home = net.add_host ("home");
      net.link (producer, home);
      SignallingServer server (net, producer);
      Host &v_on = net.add_host ("von"), &v_off = net.add_host ("voff");
      LinkConfig first = {.rate_kbit = thin ? 150u : steady ? 500u : 4000u};
      Link &l_on = net.link (producer, v_on, first), &l_off = net.link (producer, v_off, first);
      ProbeResult on, off;
      std::thread t ([&] {
        run_probe (net, producer, v_on, l_on, server, "pon", thin, steady, true, on);
      });
      run_probe (net, producer, v_off, l_off, server, "poff", thin, steady, false, off);
      t.join ();
      for (auto [r, probing] : {std::pair<ProbeResult *, bool> {&on, true}, {&off, false}}) {
        if (!r->why.empty ()) {
          printf ("| %s | %d | %s | failed: %s |\n", c.c_str (), i + 1, probing ? "on" : "off",
              r->why.c_str ());
          continue;
        }
        if (steady) {
          printf ("| %s | %d | %s | %.1f fps over the last 15 s of 40 | - | mean %.0f | - | "
                  "%.0f (%.0f) |\n", c.c_str (), i + 1, probing ? "on" : "off", r->fps_last,
              r->est_mean, r->probes, r->found);
          continue;
        }
        printf ("| %s | %d | %s | %s | %s | %.0f / %.0f / %.0f | %.0f | %.0f (%.0f) |\n",
            c.c_str (), i + 1, probing ? "on" : "off", secs (r->fps_s).c_str (),
            secs (r->kbit_s).c_str (), r->est5, r->est10, r->est20, r->kbit_end, r->probes,
            r->found);
      }
      fflush (stdout);
    }
  }
}

// An option's comma-separated list.
std::vector<std::string>
comma_list (const std::string &v)
{
  std::vector<std::string> items;
  std::istringstream in (v);
  for (std::string item; std::getline (in, item, ',');)
    items.push_back (item);
  return items;
}

int
main (int argc, char **argv)
{
  std::string why = Network::unavailable ();
  if (!why.empty ()) {
    fprintf (stderr, "netsim-bench: %s\n", why.c_str ());
    return 77;
  }
  std::string mode = argc > 1 ? argv[1] : "";
  try {
    if (mode == "delay") {
      bench_delay ();
      return 0;
    }
    if (mode == "ladder") {
      std::vector<unsigned> counts = {1, 5, 20};
      int seconds = 40, repeat = 2;
      for (int i = 2; i + 1 < argc; i += 2) {
        std::string k = argv[i], v = argv[i + 1];
        if (k == "--viewers") {
          counts.clear ();
          std::istringstream in (v);
          std::string item;
          while (std::getline (in, item, ','))
            counts.push_back ((unsigned) std::stoul (item));
        } else if (k == "--seconds") {
          seconds = std::max (20, std::stoi (v));
        } else if (k == "--repeat") {
          repeat = std::max (1, std::stoi (v));
        } else {
          fprintf (stderr, "netsim-bench: unknown option %s\n", k.c_str ());
          return 2;
        }
      }
      bench_ladder (counts, seconds, repeat);
      return 0;
    }
    if (mode == "g2g") {
      G2gOptions o;
      for (int i = 2; i + 1 < argc; i += 2) {
        std::string k = argv[i], v = argv[i + 1];
        std::vector<std::string> items = comma_list (v);
        if (k == "--jitter") {
          o.jitter.clear ();
          for (auto &it : items)
            o.jitter.push_back ((unsigned) std::stoul (it));
        } else if (k == "--receivers") {
          o.receivers = items;
        } else if (k == "--seconds") {
          o.seconds = std::max (5, std::stoi (v));
        } else if (k == "--reorder") {
          o.reorder = v == "on";
        } else {
          fprintf (stderr, "netsim-bench: unknown option %s\n", k.c_str ());
          return 2;
        }
      }
      bench_g2g (o);
      return 0;
    }
    if (mode == "compare") {
      std::vector<std::string> cases = {"cap:0", "cap:2000", "cap:1000", "cap:500", "cap:300",
          "loss:1", "loss:5", "loss:10", "drop:4000-500"};
      std::vector<std::string> senders = {"rtcstream", "bare"};
      int seconds = 40, repeat = 1;
      for (int i = 2; i + 1 < argc; i += 2) {
        std::string k = argv[i], v = argv[i + 1];
        if (k == "--cases") {
          cases = comma_list (v);
        } else if (k == "--senders") {
          senders = comma_list (v);
        } else if (k == "--repeat") {
          repeat = std::max (1, std::stoi (v));
        } else if (k == "--seconds") {
          seconds = std::max (20, std::stoi (v));
        } else {
          fprintf (stderr, "netsim-bench: unknown option %s\n", k.c_str ());
          return 2;
        }
      }
      bench_compare (cases, senders, seconds, repeat);
      return 0;
    }
    if (mode == "probe") {
      std::vector<std::string> cases = {"thin", "drop", "cap500"};
      int repeat = 2;
      for (int i = 2; i + 1 < argc; i += 2) {
        std::string k = argv[i], v = argv[i + 1];
        if (k == "--cases") {
          cases = comma_list (v);
        } else if (k == "--repeat") {
          repeat = std::max (1, std::stoi (v));
        } else {
          fprintf (stderr, "netsim-bench: unknown option %s\n", k.c_str ());
          return 2;
        }
      }
      bench_probe (cases, repeat);
      return 0;
    }
    if (mode == "stream") {
      StreamOptions o;
      for (int i = 2; i + 1 < argc; i += 2) {
        std::string k = argv[i], v = argv[i + 1];
        if (k == "--caps") {
          o.caps.clear ();
          std::istringstream in (v);
          std::string item;
          while (std::getline (in, item, ','))
            o.caps.push_back ((unsigned) std::stoul (item));
        } else if (k == "--seconds") {
          o.seconds = std::max (20, std::stoi (v));
        } else if (k == "--size") {
          o.size = v;
        } else if (k == "--loss") {
          o.loss = std::stod (v);
        } else if (k == "--queue") {
          o.queue = (unsigned) std::stoul (v);
        } else if (k == "--pattern") {
          o.moving = v == "moving";
        } else if (k == "--congestion-control") {
          o.congestion_control.clear ();
          if (v != "on")
            o.congestion_control.push_back (false);
          if (v != "off")
            o.congestion_control.push_back (true);
        } else if (k == "--delay") {
          o.delay = (unsigned) std::stoul (v);
        } else {
          fprintf (stderr, "netsim-bench: unknown option %s\n", k.c_str ());
          return 2;
        }
      }
      bench_stream (o);
      return 0;
    }
  } catch (const Error &e) {
    fprintf (stderr, "%s\n", e.what ());
    return 1;
  }
  fprintf (stderr, "usage: netsim-bench delay | g2g [--jitter LIST] [--receivers LIST] "
                   "[--seconds N] [--reorder on] | stream [--caps LIST] [--seconds N] "
                   "[--size WxH] [--pattern static|moving] [--congestion-control off|on|both] [--loss PCT] "
                   "[--delay MS] [--queue MS] | ladder [--viewers LIST] [--seconds N] [--repeat N] "
                   "| compare [--cases LIST] [--senders LIST] [--seconds N] [--repeat N] | probe [--cases LIST] [--repeat N]\n");
  return 2;
}
