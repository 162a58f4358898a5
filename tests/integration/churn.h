// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Viewer churn against one producer (issue 12 item 6), shared by the short
// test in the integration suite (test_churn.cpp) and the long benchmark
// (bench/churn-bench.cpp, bench/churn.sh).
//
// The producer is a gst-launch-1.0 child publishing to the real
// rtcstream-signalling, so that its /proc entry shows what churn costs it.
// A long-lived viewer in this process counts its frames the whole time; the
// frame rate of every one-second window is kept. Churn viewers then join
// and leave one after another, their kind taking turns:
//   - clean: an rtcstreamsrc pipeline of this process, set to NULL;
//   - interrupted: a gst-launch-1.0 viewer stopped with SIGINT (Ctrl-C);
//   - killed: a gst-launch-1.0 viewer SIGKILLed, as a crash would end it;
//   - vanished (ChurnOptions::vanished): a gst-launch-1.0 viewer SIGSTOPped,
//     as if its network went: it sends nothing more (no RTCP, no bye, no
//     websocket close) and is SIGKILLed only after vanished_hold_ms, once
//     the producer must have dropped it on its own (20 s without RTCP);
//     the next cycles go on meanwhile.
// Each must have received video before it leaves. The producer's RSS,
// threads and open fds are read after a warm-up (one viewer of each kind)
// and at the end, once its threads and fds have settled.
#pragma once

#include "harness.h"

#include <functional>
#include <string>
#include <vector>

namespace rtcstream::test {

// What /proc/PID says about a process.
struct ProcessSample {
  long rss_kb = -1;   // VmRSS
  long threads = -1;  // Threads
  long fds = -1;      // entries of /proc/PID/fd
};
ProcessSample sample_process (GPid pid);

struct ChurnOptions {
  int cycles = 21;         // churn viewers, kinds taking turns
  int join_timeout_ms = 20000;  // a churn viewer must get video within this
  int settle_ms = 15000;   // at most this long for threads and fds to return
  long thread_slack = 2;   // allowed growth of the producer's threads
  long fd_slack = 2;       // and of its fds
  bool vanished = false;   // a fourth kind of churn viewer, above
  int vanished_hold_ms = 25000;
  // When above 0, the producer's memory is sampled again this long after
  // the settling (ChurnResult::later), and the RSS bound applies to that
  // sample: rtcstream sweeps GLib's slice allocator 32 s after the last
  // session closed (sweep_slice_cache in gst/rtcstream/session.cpp).
  int memory_settle_ms = 0;
  // After the last sample, have gdb call malloc_trim (0) in the producer and
  // sample again: memory freed but kept by malloc goes, live memory stays.
  bool trim_after = false;
  // With trim_after: where gdb writes the producer's malloc_info (0, f)
  // after the trim (the arenas' mapped, free and used bytes), "" for none.
  std::string malloc_info_path;
  // NAME=VALUE settings for the producer's environment only (through
  // env(1)), for comparing allocator settings side by side, e.g.
  // MALLOC_ARENA_MAX=1 or G_SLICE=always-malloc; empty for none.
  std::vector<std::string> producer_env;
  // When above 0, the churn rests after every rest_every cycles as it does
  // at the end (the vanished viewers reaped, threads and fds back, then
  // memory_settle_ms) and reports the producer's settled RSS as a progress
  // line: whether what stays keeps growing with the cycles or levels off.
  int rest_every = 0;
  // Progress lines (e.g. "cycle 100/1000"), nullptr for none.
  std::function<void (const std::string &)> progress;
};

struct ChurnResult {
  bool started = false;       // server, producer and long-lived viewer all ran
  std::string error;          // why not, or the first churn viewer that failed
  int cycles_done = 0;
  int clean = 0, interrupted = 0, killed = 0, vanished = 0;  // cycles done by kind
  double seconds = 0;         // the churn itself, warm-up and settling excluded
  double settle_seconds = 0;  // how long threads and fds took to return
  ProcessSample start;        // the producer with the long-lived viewer only
  ProcessSample before;       // after the warm-up
  ProcessSample after;        // after the churn and settling
  ProcessSample later;        // memory_settle_ms after that (rss_kb -1 if not taken)
  double later_seconds = 0;   // how long after `after`
  // With rest_every: the settled samples of every rest, and after how many
  // cycles each was taken.
  std::vector<std::pair<int, ProcessSample>> rests;
  ProcessSample trimmed;      // after, then malloc_trim (trim_after)
  std::vector<double> fps;    // the long-lived viewer's fps, one-second windows
  // The bound on the long-lived viewer: 30 fps are sent, and it must keep
  // kMinFps over every kSpan consecutive one-second windows (a sliding mean).
  // 24 and three seconds allow for this shared 2-core machine, where a
  // window of 19 or 22 fps now and then comes with its load alone; a second
  // with no frame still fails. Windows count whole frames, so the mean may
  // read one frame in kSpan seconds low by where its edges fall.
  static constexpr double kMinFps = 24;
  static constexpr int kSpan = 3;
  double fps_min_over (int span) const;  // the lowest sliding mean of span windows
  bool fps_held () const { return fps_min_over (kSpan) >= kMinFps - 1.0 / kSpan; }
  std::string fps_list () const;  // "30.0 29.9 ...", for failure messages
  double fps_min () const;
  double fps_median () const;
  // The verdicts (their reasons when false).
  bool threads_returned (const ChurnOptions &o) const;
  bool fds_returned (const ChurnOptions &o) const;
  // The sample the RSS bound applies to: later when taken, else after.
  const ProcessSample &settled () const { return later.rss_kb >= 0 ? later : after; }
  long rss_growth_kb () const { return settled ().rss_kb - before.rss_kb; }
  // A markdown table: RSS, threads and fds at start, before and after, and
  // the long-lived viewer's fps.
  std::string table () const;
};

// Runs the churn. Needs the rtcstream plugin, webrtcbin and the signalling
// server (the environment meson test and bench/churn.sh set up).
ChurnResult run_churn (const ChurnOptions &options);

}  // namespace rtcstream::test
