// SPDX-License-Identifier: LGPL-2.1-or-later
#include "churn.h"

#include <dirent.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

namespace rtcstream::test {

ProcessSample
sample_process (GPid pid)
{
  ProcessSample s;
  if (pid <= 0)
    return s;
  std::string dir = "/proc/" + std::to_string (pid);
  std::ifstream status (dir + "/status");
  std::string line;
  while (std::getline (status, line)) {
    if (line.rfind ("VmRSS:", 0) == 0)
      s.rss_kb = std::stol (line.substr (6));
    else if (line.rfind ("Threads:", 0) == 0)
      s.threads = std::stol (line.substr (8));
  }
  if (DIR *d = opendir ((dir + "/fd").c_str ())) {
    s.fds = 0;
    while (struct dirent *e = readdir (d))
      if (e->d_name[0] != '.')
        s.fds++;
    closedir (d);
  }
  return s;
}

namespace {

// The long-lived viewer's frame rate, one window a second, on a thread of
// its own so that a blocking step of the churn (a viewer set to NULL, a
// child being reaped) delays no window.
class FpsSampler {
public:
  explicit FpsSampler (std::shared_ptr<FrameCounter> counter) : counter_ (std::move (counter))
  {
    thread_ = std::thread ([this] { run (); });
  }
  ~FpsSampler () { stop (); }
  void stop ()
  {
    {
      std::lock_guard<std::mutex> lk (lock_);
      stopping_ = true;
    }
    wake_.notify_all ();
    if (thread_.joinable ())
      thread_.join ();
  }
  std::vector<double> windows () const
  {
    std::lock_guard<std::mutex> lk (lock_);
    return fps_;
  }

private:
  void run ()
  {
    using clock = std::chrono::steady_clock;
    auto last = clock::now ();
    int last_frames = counter_->frames;
    std::unique_lock<std::mutex> lk (lock_);
    while (!wake_.wait_until (lk, last + std::chrono::seconds (1), [this] { return stopping_; })) {
      auto now = clock::now ();
      int frames = counter_->frames;
      fps_.push_back ((frames - last_frames) / std::chrono::duration<double> (now - last).count ());
      last = now;
      last_frames = frames;
    }
  }

  std::shared_ptr<FrameCounter> counter_;
  mutable std::mutex lock_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<double> fps_;
  std::thread thread_;
};

enum class Kind { clean, interrupted, killed, vanished };

const char *
kind_name (Kind k)
{
  switch (k) {
    case Kind::clean:
      return "clean (pipeline set to NULL)";
    case Kind::interrupted:
      return "interrupted (gst-launch-1.0, SIGINT)";
    case Kind::killed:
      return "killed (gst-launch-1.0, SIGKILL)";
    case Kind::vanished:
      return "vanished (gst-launch-1.0, SIGSTOP, SIGKILL later)";
  }
  return "";
}

// gst-launch-1.0 -v prints this for every buffer fakesink silent=false gets.
const char kChildGotVideo[] = "last-message = chain";

class Churn {
public:
  Churn (const ChurnOptions &o, ChurnResult &r, const std::string &uri, Pipeline &bus)
      : options_ (o), result_ (r), uri_ (uri), bus_ (bus)
  {
  }

  // One viewer joins, gets video and leaves. False (result_.error says why)
  // when it got no video or did not leave.
  bool cycle (Kind kind, int index)
  {
    std::string what = std::string ("churn viewer ") + std::to_string (index) + ", " +
        kind_name (kind);
    reap_vanished (false);
    if (kind == Kind::clean) {
      Pipeline viewer ("rtcstreamsrc uri=" + uri_ + " ! fakesink name=v");
      if (!viewer.ok ())
        return fail (what + ": " + viewer.parse_error ());
      auto frames = viewer.count ("v");
      viewer.play ();
      if (!wait ([&] { return frames->frames > 0; })) {
        viewer.pump (100);
        return fail (what + " got no video within " + seconds (options_.join_timeout_ms) +
            ": " + viewer.all_errors ());
      }
      viewer.stop ();
      return true;
    }
    auto launched = std::make_unique<LaunchProcess> ("gst-launch-1.0 -v rtcstreamsrc uri=" +
        uri_ + " ! fakesink silent=false");
    LaunchProcess &viewer = *launched;
    if (!wait ([&] { return viewer.printed (kChildGotVideo) || viewer.exited (); }) ||
        viewer.exited ())
      return fail (what + " got no video within " + seconds (options_.join_timeout_ms) +
          (viewer.exited () ? " and exited" : "") + "; its output:\n" + tail (viewer.output ()));
    if (viewer.printed ("ERROR"))
      return fail (what + " printed an error:\n" + tail (viewer.output ()));
    if (kind == Kind::vanished) {
      if (::kill (viewer.pid (), SIGSTOP) != 0)
        return fail (what + ": SIGSTOP failed");
      vanished_.push_back ({g_get_monotonic_time (), std::move (launched)});
      return true;
    }
    bool stopped = kind == Kind::interrupted ? viewer.interrupt_and_expect_exit () : viewer.kill ();
    if (!stopped)
      return fail (what + " did not exit");
    return true;
  }

  // SIGKILLs the vanished viewers held long enough (all: waiting until
  // they are). Pumps the buses meanwhile.
  void reap_vanished (bool all)
  {
    while (!vanished_.empty ()) {
      const gint64 due = vanished_.front ().first + options_.vanished_hold_ms * 1000;
      const gint64 now = g_get_monotonic_time ();
      if (now < due) {
        if (!all)
          return;
        wait ([] { return false; }, static_cast<int> ((due - now) / 1000) + 1);
      }
      vanished_.front ().second->kill ();
      vanished_.pop_front ();
    }
  }

  // Pumps the default main context (the server's log drain) and the
  // long-lived viewer's bus until pred() or the join timeout.
  bool wait (const std::function<bool ()> &pred, int timeout_ms = -1)
  {
    return bus_.wait_for (pred, timeout_ms < 0 ? options_.join_timeout_ms : timeout_ms);
  }

private:
  bool fail (const std::string &why)
  {
    if (result_.error.empty ())
      result_.error = why;
    return false;
  }
  static std::string seconds (int ms) { return std::to_string (ms / 1000) + " s"; }
  static std::string tail (const std::string &text)
  {
    return text.size () > 4000 ? "..." + text.substr (text.size () - 4000) : text;
  }

  const ChurnOptions &options_;
  ChurnResult &result_;
  std::string uri_;
  Pipeline &bus_;
  // Vanished viewers (SIGSTOPped) and since when, oldest first.
  std::deque<std::pair<gint64, std::unique_ptr<LaunchProcess>>> vanished_;
};

}  // namespace

double
ChurnResult::fps_min_over (int span) const
{
  if (fps.empty ())
    return 0;
  size_t n = std::min<size_t> (span, fps.size ());
  double sum = 0, lowest = 1e9;
  for (size_t i = 0; i < fps.size (); i++) {
    sum += fps[i];
    if (i >= n)
      sum -= fps[i - n];
    if (i + 1 >= n)
      lowest = std::min (lowest, sum / n);
  }
  return lowest;
}

std::string
ChurnResult::fps_list () const
{
  std::string s;
  char buf[16];
  for (double f : fps) {
    snprintf (buf, sizeof buf, "%s%.1f", s.empty () ? "" : " ", f);
    s += buf;
  }
  return s;
}

double
ChurnResult::fps_min () const
{
  return fps.empty () ? 0 : *std::min_element (fps.begin (), fps.end ());
}

double
ChurnResult::fps_median () const
{
  if (fps.empty ())
    return 0;
  std::vector<double> v = fps;
  std::sort (v.begin (), v.end ());
  return v.size () % 2 ? v[v.size () / 2] : (v[v.size () / 2 - 1] + v[v.size () / 2]) / 2;
}

bool
ChurnResult::threads_returned (const ChurnOptions &o) const
{
  return after.threads >= 0 && after.threads <= before.threads + o.thread_slack;
}

bool
ChurnResult::fds_returned (const ChurnOptions &o) const
{
  return after.fds >= 0 && after.fds <= before.fds + o.fd_slack;
}

std::string
ChurnResult::table () const
{
  char buf[256];
  std::string t =
      "| producer | RSS (MiB) | threads | fds |\n"
      "|---|---:|---:|---:|\n";
  auto row = [&] (const std::string &label, const ProcessSample &s) {
    snprintf (buf, sizeof buf, "| %s | %.1f | %ld | %ld |\n", label.c_str (), s.rss_kb / 1024.0,
        s.threads, s.fds);
    t += buf;
  };
  row ("start: the long-lived viewer only", start);
  row ("before: after the warm-up (one viewer of each kind)", before);
  for (const auto &[cycles, sample] : rests) {
    snprintf (buf, sizeof buf, "rest after %d cycles, settled", cycles);
    row (buf, sample);
  }
  snprintf (buf, sizeof buf, "after %d cycles and %.1f s of settling", cycles_done,
      settle_seconds);
  row (buf, after);
  if (later.rss_kb >= 0) {
    snprintf (buf, sizeof buf, "after, %.0f s later", later_seconds);
    row (buf, later);
  }
  if (trimmed.rss_kb >= 0)
    row ("after, then malloc_trim (0) in the producer (gdb)", trimmed);
  const ProcessSample &last = settled ();
  snprintf (buf, sizeof buf, "| %s - before | %+.1f | %+ld | %+ld |\n",
      &last == &later ? "later" : "after", rss_growth_kb () / 1024.0,
      last.threads - before.threads, last.fds - before.fds);
  t += buf;
  snprintf (buf, sizeof buf,
      "\n%d cycles (%d clean, %d interrupted, %d killed, %d vanished) in %.0f s: %.2f s per "
      "cycle.\n", cycles_done, clean, interrupted, killed, vanished, seconds,
      cycles_done ? seconds / cycles_done : 0.0);
  t += buf;
  snprintf (buf, sizeof buf,
      "Long-lived viewer: %zu one-second windows, fps min %.1f, median %.1f; lowest mean over "
      "%d s %.1f.\n",
      fps.size (), fps_min (), fps_median (), kSpan, fps_min_over (kSpan));
  t += buf;
  return t;
}

ChurnResult
run_churn (const ChurnOptions &options)
{
  ChurnResult result;
  auto progress = [&] (const std::string &line) {
    if (options.progress)
      options.progress (line);
  };
  ServerProcess server;
  if (!server.ok ()) {
    result.error = "rtcstream-signalling did not start";
    return result;
  }
  std::string uri = server.uri ("churn");
  std::string env;
  for (const std::string &setting : options.producer_env) {
    g_autofree gchar *quoted = g_shell_quote (setting.c_str ());
    env += (env.empty () ? "env " : "") + std::string (quoted) + " ";
  }
  LaunchProcess producer (env + "gst-launch-1.0 -m " + kVideo + " ! rtcstreamsink uri=" + uri);
  if (!wait_until ([&] { return producer.printed ("rtcstream-registered") || producer.exited (); },
          20000) ||
      producer.exited ()) {
    result.error = "the producer did not register; its output:\n" + producer.output ();
    return result;
  }

  Pipeline viewer ("rtcstreamsrc uri=" + uri + " ! fakesink name=v");
  auto frames = viewer.count ("v");
  viewer.play ();
  if (!viewer.wait_for ([&] { return frames->frames > 0 || !viewer.errors ().empty (); }, 20000) ||
      frames->frames == 0) {
    result.error = "the long-lived viewer got no video: " + viewer.all_errors ();
    return result;
  }
  FpsSampler sampler (frames);
  Churn churn (options, result, uri, viewer);
  churn.wait ([] { return false; }, 2000);
  result.start = sample_process (producer.pid ());
  result.started = true;
  progress ("producer pid " + std::to_string (producer.pid ()) + " at start: " +
      std::to_string (result.start.threads) + " threads, " + std::to_string (result.start.fds) +
      " fds");

  bool ok = true;
  const Kind kinds[] = {Kind::clean, Kind::interrupted, Kind::killed};
  for (int i = 0; ok && i < 3; i++)
    ok = churn.cycle (kinds[i], -(3 - i));
  churn.wait ([] { return false; }, 2000);
  result.before = sample_process (producer.pid ());

  // Settling, at the end (and at each rest): the last vanished viewers are
  // held as long as the others were; the producer tears a consumer down on
  // its own threads, so give it until its threads and fds are back, at most
  // settle_ms; then a little longer, for memory released after the last
  // thread went, and memory_settle_ms more when asked.
  auto settle = [&] (bool last) {
    churn.reap_vanished (true);
    gint64 t1 = g_get_monotonic_time ();
    churn.wait (
        [&] {
          result.after = sample_process (producer.pid ());
          return result.threads_returned (options) && result.fds_returned (options);
        },
        options.settle_ms);
    result.settle_seconds = (g_get_monotonic_time () - t1) / 1e6;
    churn.wait ([] { return false; }, 1000);
    result.after = sample_process (producer.pid ());
    if (options.memory_settle_ms > 0) {
      if (last)
        progress ("after: producer " + std::to_string (result.after.rss_kb / 1024) +
            " MiB; waiting " + std::to_string (options.memory_settle_ms / 1000) + " s more");
      gint64 t2 = g_get_monotonic_time ();
      churn.wait ([] { return false; }, options.memory_settle_ms);
      result.later = sample_process (producer.pid ());
      result.later_seconds = (g_get_monotonic_time () - t2) / 1e6;
    }
  };

  gint64 t0 = g_get_monotonic_time ();
  gint64 rested_us = 0;  // in rests, left out of result.seconds
  const int kind_count = options.vanished ? 4 : 3;
  for (int i = 0; ok && i < options.cycles; i++) {
    Kind kind = i % kind_count == 3 ? Kind::vanished : kinds[i % kind_count];
    ok = churn.cycle (kind, i + 1);
    if (!ok)
      break;
    result.cycles_done++;
    (kind == Kind::clean ? result.clean : kind == Kind::interrupted ? result.interrupted
        : kind == Kind::killed ? result.killed : result.vanished)++;
    if ((i + 1) % std::clamp (options.cycles / 10, 1, 50) == 0 || i + 1 == options.cycles) {
      ProcessSample s = sample_process (producer.pid ());
      char line[160];
      snprintf (line, sizeof line, "cycle %d/%d: producer %.1f MiB, %ld threads, %ld fds; %.0f s",
          i + 1, options.cycles, s.rss_kb / 1024.0, s.threads, s.fds,
          (g_get_monotonic_time () - t0) / 1e6);
      progress (line);
    }
    if (options.rest_every > 0 && (i + 1) % options.rest_every == 0 && i + 1 < options.cycles) {
      gint64 r0 = g_get_monotonic_time ();
      settle (false);
      rested_us += g_get_monotonic_time () - r0;
      result.rests.push_back ({i + 1, result.settled ()});
      char line[120];
      snprintf (line, sizeof line, "rest after cycle %d: producer %.1f MiB settled (%+.1f)",
          i + 1, result.settled ().rss_kb / 1024.0, result.rss_growth_kb () / 1024.0);
      progress (line);
    }
  }
  result.seconds = (g_get_monotonic_time () - t0 - rested_us) / 1e6;
  settle (true);
  sampler.stop ();
  result.fps = sampler.windows ();
  if (options.trim_after && !producer.exited ()) {
    std::string pid = std::to_string (producer.pid ());
    std::vector<std::string> args = {"gdb", "-batch", "-nx", "-p", pid, "-ex",
        "call (int) malloc_trim (0)"};
    if (!options.malloc_info_path.empty ()) {
      for (const std::string &cmd : {"set $f = (void *) fopen (\"" + options.malloc_info_path +
                                         "\", \"w\")",
               std::string ("call (int) malloc_info (0, $f)"), std::string ("call (int) fclose ($f)")}) {
        args.push_back ("-ex");
        args.push_back (cmd);
      }
    }
    std::vector<const char *> argv;
    for (const std::string &a : args)
      argv.push_back (a.c_str ());
    argv.push_back (nullptr);
    gint status = -1;
    if (g_spawn_sync (nullptr, const_cast<char **> (argv.data ()), nullptr,
            (GSpawnFlags) (G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                G_SPAWN_STDERR_TO_DEV_NULL),
            nullptr, nullptr, nullptr, nullptr, &status, nullptr) &&
        status == 0)
      result.trimmed = sample_process (producer.pid ());
    else
      progress ("gdb could not call malloc_trim in the producer");
  }

  if (producer.exited () && result.error.empty ())
    result.error = "the producer exited during the churn; its output:\n" + producer.output ();
  if (!viewer.errors ().empty () && result.error.empty ())
    result.error = "the long-lived viewer posted errors: " + viewer.all_errors ();
  viewer.stop ();
  if (!producer.interrupt_and_expect_exit () && result.error.empty ())
    result.error = "the producer did not stop on SIGINT";
  return result;
}

}  // namespace rtcstream::test
