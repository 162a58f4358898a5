// SPDX-License-Identifier: LGPL-2.1-or-later
#include "harness.h"

#include <gio/gio.h>

#include <glib/gstdio.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

namespace rtcstream::test {

ServerProcess::ServerProcess (const std::vector<std::string> &extra_args)
    : extra_args_ (extra_args)
{
  spawn (0);
}

void
kill_and_reap (GPid &pid)
{
  if (pid <= 0)
    return;
  kill (pid, SIGKILL);
  int status = 0;
  waitpid (pid, &status, 0);
  g_spawn_close_pid (pid);
  pid = 0;
}

void
ServerProcess::kill_hard ()
{
  kill_and_reap (pid_);
}

bool
ServerProcess::restart ()
{
  if (pid_ > 0)
    stop_child (pid_, SIGTERM, "rtcstream-signalling");
  pid_ = 0;
  const unsigned port = port_;
  port_ = 0;
  spawn (port);
  return ok () && port_ == port;
}

void
ServerProcess::spawn (unsigned port)
{
  const char *bin = g_getenv ("RTCSTREAM_SIGNALLING");
  if (!bin)
    bin = "rtcstream-signalling";
  std::string port_arg = std::to_string (port);
  std::vector<const char *> argv = {bin, "--port", port_arg.c_str ()};
  for (const std::string &a : extra_args_)
    argv.push_back (a.c_str ());
  argv.push_back (nullptr);
  gint out_fd = -1;
  GError *err = nullptr;
  if (!g_spawn_async_with_pipes (nullptr, const_cast<char **> (argv.data ()), nullptr,
          (GSpawnFlags) (G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH),
          die_with_parent, nullptr, &pid_, nullptr, &out_fd, nullptr, &err)) {
    g_printerr ("could not start %s: %s\n", bin, err->message);
    g_clear_error (&err);
    pid_ = 0;
    return;
  }
  // Read the "listening on ws://HOST:PORT/ws" line, at most 10 s.
  std::string line;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline) {
    char c;
    GPollFD pfd = {out_fd, G_IO_IN, 0};
    if (g_poll (&pfd, 1, 100) <= 0)
      continue;
    if (read (out_fd, &c, 1) != 1)
      break;
    if (c == '\n') {
      const char *p = strstr (line.c_str (), "://");
      if (p && (p = strrchr (p, ':'))) {
        port_ = (unsigned) strtoul (p + 1, nullptr, 10);
        break;
      }
      line.clear ();
    } else {
      line += c;
    }
  }
  // Keep draining the child's stdout in the background so it never blocks.
  GIOChannel *ch = g_io_channel_unix_new (out_fd);
  g_io_channel_set_close_on_unref (ch, TRUE);
  g_io_add_watch (ch, (GIOCondition) (G_IO_IN | G_IO_HUP | G_IO_ERR),
      [] (GIOChannel *c, GIOCondition cond, gpointer) -> gboolean {
        char buf[4096];
        if (cond & G_IO_IN) {
          ssize_t n = read (g_io_channel_unix_get_fd (c), buf, sizeof buf);
          if (n > 0)
            return G_SOURCE_CONTINUE;
        }
        return G_SOURCE_REMOVE;
      }, nullptr);
  g_io_channel_unref (ch);
}

ServerProcess::~ServerProcess ()
{
  if (pid_ > 0)
    stop_child (pid_, SIGTERM, "rtcstream-signalling");
}

std::string
process_stacks (GPid pid)
{
  std::string p = std::to_string (pid);
  const char *argv[] = {"gdb", "-batch", "-nx", "-p", p.c_str (), "-ex", "thread apply all bt",
      nullptr};
  gchar *out = nullptr;
  gint status = 0;
  if (!g_spawn_sync (nullptr, const_cast<char **> (argv), nullptr,
          (GSpawnFlags) (G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL), nullptr, nullptr, &out,
          nullptr, &status, nullptr))
    return "(gdb could not run)";
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  g_free (out);
  std::string stacks;
  for (gchar **it = lines; *it; it++)
    if (g_str_has_prefix (*it, "Thread ") || g_str_has_prefix (*it, "#"))
      stacks += std::string (*it) + "\n";
  return stacks;
}

namespace {

// A test of this process that runs longer than this is stuck where no wait
// of ours bounds it (each is 15-20 s): its stacks go to stderr, into the
// log that meson keeps when it kills the test at its timeout (120 s for
// element and most integration tests). element-data hung so once in a
// full run (2026-12-04) with nothing in its log but the test's name.
constexpr int kHangReportS = 90;

class HangReporter : public ::testing::EmptyTestEventListener {
public:
  HangReporter () : thread_ ([this] { watch (); }) {}
  ~HangReporter () override
  {
    {
      std::lock_guard<std::mutex> lk (lock_);
      quit_ = true;
    }
    cond_.notify_all ();
    thread_.join ();
  }

private:
  void OnTestStart (const ::testing::TestInfo &info) override
  {
    std::lock_guard<std::mutex> lk (lock_);
    name_ = std::string (info.test_suite_name ()) + "." + info.name ();
    deadline_ = std::chrono::steady_clock::now () + std::chrono::seconds (kHangReportS);
    armed_ = true;
    cond_.notify_all ();
  }
  void OnTestEnd (const ::testing::TestInfo &) override
  {
    std::lock_guard<std::mutex> lk (lock_);
    armed_ = false;
    cond_.notify_all ();
  }
  void watch ()
  {
    std::unique_lock<std::mutex> lk (lock_);
    while (!quit_) {
      if (!armed_) {
        cond_.wait (lk);
        continue;
      }
      if (cond_.wait_until (lk, deadline_) != std::cv_status::timeout || !armed_ || quit_)
        continue;
      armed_ = false;  // once a test
      const std::string name = name_;
      lk.unlock ();
      std::string stacks = process_stacks (getpid ());
      fprintf (stderr, "\n%s still runs after %d s: the stacks of this process\n%s\n",
          name.c_str (), kHangReportS, stacks.c_str ());
      fflush (stderr);
      lk.lock ();
    }
  }

  std::mutex lock_;
  std::condition_variable cond_;
  bool armed_ = false, quit_ = false;
  std::string name_;
  std::chrono::steady_clock::time_point deadline_;
  std::thread thread_;
};

// Every test program that links this harness reports its hangs (gtest
// deletes the listener at exit, which joins its thread).
const bool hang_reporter = [] {
  ::testing::UnitTest::GetInstance ()->listeners ().Append (new HangReporter ());
  return true;
} ();

}  // namespace

int
stop_child (GPid pid, int sig, const std::string &what, int bound_ms)
{
  kill (pid, sig);
  int status = 0;
  gint64 deadline = g_get_monotonic_time () + (gint64) bound_ms * 1000;
  while (waitpid (pid, &status, WNOHANG) == 0) {
    if (g_get_monotonic_time () > deadline) {
      ADD_FAILURE () << what << " (pid " << pid << ") did not exit within " << bound_ms / 1000
                     << " s of signal " << sig << ": it hangs. Its stacks:\n"
                     << process_stacks (pid);
      kill (pid, SIGKILL);
      waitpid (pid, &status, 0);
      g_spawn_close_pid (pid);
      return -1;
    }
    g_usleep (20000);
  }
  g_spawn_close_pid (pid);
  return status;
}

bool
ServerProcess::alive () const
{
  int status = 0;
  return pid_ > 0 && waitpid (pid_, &status, WNOHANG) == 0;
}

std::string
ServerProcess::uri (const std::string &stream, const char *scheme) const
{
  return std::string (scheme) + "://127.0.0.1:" + std::to_string (port_) + "/" + stream;
}

std::string
ServerProcess::ws_url () const
{
  return "ws://127.0.0.1:" + std::to_string (port_) + "/ws";
}

FrameCounter::~FrameCounter ()
{
  gst_caps_replace (&caps, nullptr);
}

std::string
FrameCounter::caps_string () const
{
  std::lock_guard<std::mutex> lk (lock);
  gchar *s = caps ? gst_caps_to_string (caps) : g_strdup ("");
  std::string r = s;
  g_free (s);
  return r;
}

Pipeline::Pipeline (const std::string &description)
{
  GError *err = nullptr;
  pipeline_ = gst_parse_launch (description.c_str (), &err);
  if (err) {
    parse_error_ = err->message;
    g_clear_error (&err);
    if (pipeline_)
      gst_object_unref (pipeline_);
    pipeline_ = nullptr;
    return;
  }
  bus_ = gst_element_get_bus (pipeline_);
}

Pipeline::~Pipeline ()
{
  stop ();
  if (bus_)
    gst_object_unref (bus_);
  if (pipeline_)
    gst_object_unref (pipeline_);
}

GstElement *
Pipeline::element (const char *name) const
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline_), name);
  if (e)
    gst_object_unref (e);  // the pipeline keeps it alive
  return e;
}

GstStateChangeReturn
Pipeline::play ()
{
  return gst_element_set_state (pipeline_, GST_STATE_PLAYING);
}

void
Pipeline::stop ()
{
  if (pipeline_)
    gst_element_set_state (pipeline_, GST_STATE_NULL);
}

std::shared_ptr<FrameCounter>
Pipeline::count (const char *name, Inspect inspect)
{
  return count (element (name), std::move (inspect));
}

std::shared_ptr<FrameCounter>
Pipeline::count (GstElement *e, Inspect inspect)
{
  auto counter = std::make_shared<FrameCounter> ();
  counter->inspect = std::move (inspect);
  if (!e)
    return counter;
  GstPad *pad = gst_element_get_static_pad (e, "sink");
  // The probe owns a reference: the counter lives as long as the pad does.
  gst_pad_add_probe (pad,
      (GstPadProbeType) (GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      [] (GstPad *pad, GstPadProbeInfo *info, gpointer data) -> GstPadProbeReturn {
        FrameCounter *c = static_cast<std::shared_ptr<FrameCounter> *> (data)->get ();
        if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
          if (c->inspect) {
            GstCaps *caps = gst_pad_get_current_caps (pad);
            c->inspect (GST_PAD_PROBE_INFO_BUFFER (info), caps);
            if (caps)
              gst_caps_unref (caps);
          }
          c->frames++;
        } else if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_CAPS) {
          GstCaps *caps;
          gst_event_parse_caps (GST_PAD_PROBE_INFO_EVENT (info), &caps);
          std::lock_guard<std::mutex> lk (c->lock);
          gst_caps_replace (&c->caps, caps);
        }
        return GST_PAD_PROBE_OK;
      },
      new std::shared_ptr<FrameCounter> (counter),
      [] (gpointer data) { delete static_cast<std::shared_ptr<FrameCounter> *> (data); });
  gst_object_unref (pad);
  return counter;
}

void
Pipeline::handle (GstMessage *msg)
{
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
    case GST_MESSAGE_WARNING: {
      GError *err = nullptr;
      gchar *dbg = nullptr;
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
        gst_message_parse_error (msg, &err, &dbg);
      else
        gst_message_parse_warning (msg, &err, &dbg);
      std::string text = std::string (GST_OBJECT_NAME (GST_MESSAGE_SRC (msg))) + ": " +
          err->message;
      (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR ? errors_ : warnings_).push_back (text);
      g_clear_error (&err);
      g_free (dbg);
      break;
    }
    case GST_MESSAGE_EOS:
      eos_ = true;
      break;
    case GST_MESSAGE_LATENCY:
      // As gst-launch-1.0 and every player do: rtcstreamsrc's playout delay
      // moves the pipeline's latency.
      gst_bin_recalculate_latency (GST_BIN (pipeline_));
      break;
    case GST_MESSAGE_STATE_CHANGED:
      if (GST_MESSAGE_SRC (msg) == GST_OBJECT (pipeline_)) {
        GstState newstate;
        gst_message_parse_state_changed (msg, nullptr, &newstate, nullptr);
        if (newstate == GST_STATE_PLAYING)
          playing_ = true;
      }
      break;
    case GST_MESSAGE_ELEMENT: {
      const GstStructure *s = gst_message_get_structure (msg);
      if (s)
        element_messages_.push_back (gst_structure_get_name (s));
      break;
    }
    default:
      break;
  }
}

bool
Pipeline::wait_for (const std::function<bool ()> &pred, int timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  while (true) {
    while (g_main_context_iteration (nullptr, FALSE)) {
    }
    if (pred ())
      return true;
    gint64 left = deadline - g_get_monotonic_time ();
    if (left <= 0)
      return pred ();
    GstMessage *msg = gst_bus_timed_pop (bus_, std::min<gint64> (left, 20000) * 1000);
    if (msg) {
      handle (msg);
      gst_message_unref (msg);
    }
  }
}

void
Pipeline::pump (int ms)
{
  wait_for ([] { return false; }, ms);
}

std::string
Pipeline::all_errors () const
{
  std::string s;
  for (auto &e : errors_)
    s += e + "\n";
  return s;
}

namespace {

bool
any_contains (const std::vector<std::string> &messages, const std::string &text)
{
  for (auto &m : messages)
    if (m.find (text) != std::string::npos)
      return true;
  return false;
}

}  // namespace

bool
Pipeline::has_error_containing (const std::string &text) const
{
  return any_contains (errors_, text);
}

bool
Pipeline::wait_registered (int timeout_ms)
{
  wait_for ([this] { return got_element_message ("rtcstream-registered") || !errors_.empty (); },
      timeout_ms);
  return got_element_message ("rtcstream-registered") && errors_.empty ();
}

bool
Pipeline::has_warning_containing (const std::string &text) const
{
  return any_contains (warnings_, text);
}

int
Pipeline::element_message_count (const char *name) const
{
  return (int) std::count (element_messages_.begin (), element_messages_.end (), name);
}

bool
Pipeline::got_element_message (const char *name) const
{
  for (auto &e : element_messages_)
    if (e == name)
      return true;
  return false;
}

const std::string kVideo =
    "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1";

bool
make_test_certificate (const std::string &dir, std::string &cert, std::string &key)
{
  cert = dir + "/cert.pem";
  key = dir + "/key.pem";
  const char *argv[] = {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key.c_str (),
      "-out", cert.c_str (), nullptr};
  gint status = -1;
  return g_spawn_sync (nullptr, const_cast<char **> (argv), nullptr,
             (GSpawnFlags) (G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                 G_SPAWN_STDERR_TO_DEV_NULL),
             nullptr, nullptr, nullptr, nullptr, &status, nullptr) &&
      status == 0;
}

void
die_with_parent (gpointer)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

bool
have (const char *factory)
{
  GstElementFactory *f = gst_element_factory_find (factory);
  if (f)
    gst_object_unref (f);
  return f != nullptr;
}

unsigned
free_port ()
{
  for (int attempt = 0; attempt < 20; attempt++) {
    g_autoptr (GSocket) tcp = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
        G_SOCKET_PROTOCOL_TCP, nullptr);
    g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
    if (!tcp || !g_socket_bind (tcp, any, FALSE, nullptr))
      continue;
    g_autoptr (GSocketAddress) bound = g_socket_get_local_address (tcp, nullptr);
    guint16 port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
    g_autoptr (GSocket) udp = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
        G_SOCKET_PROTOCOL_UDP, nullptr);
    g_autoptr (GSocketAddress) same = g_inet_socket_address_new (lo, port);
    if (udp && g_socket_bind (udp, same, FALSE, nullptr))
      return port;
  }
  return 0;
}

bool
wait_until (const std::function<bool ()> &pred, int timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  while (!pred ()) {
    if (g_get_monotonic_time () >= deadline)
      return pred ();
    while (g_main_context_iteration (nullptr, FALSE)) {
    }
    g_usleep (20000);
  }
  return true;
}

LaunchProcess::LaunchProcess (const std::string &command_line) : line_ (command_line)
{
  g_auto (GStrv) argv = nullptr;
  g_autoptr (GError) err = nullptr;
  if (!g_shell_parse_argv (line_.c_str (), nullptr, &argv, &err)) {
    ADD_FAILURE () << "cannot split `" << line_ << "`: " << err->message;
    return;
  }
  g_autofree gchar *path = nullptr;
  int fd = g_file_open_tmp ("rtcstream-launch-XXXXXX.log", &path, &err);
  if (fd < 0) {
    ADD_FAILURE () << "no temporary file: " << err->message;
    return;
  }
  log_path_ = path;
  if (!g_spawn_async_with_fds (nullptr, argv, nullptr,
          (GSpawnFlags) (G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH), die_with_parent,
          nullptr, &pid_, -1, fd, fd, &err)) {
    ADD_FAILURE () << "cannot run `" << line_ << "`: " << err->message;
    pid_ = 0;
  }
  close (fd);
}

LaunchProcess::~LaunchProcess ()
{
  if (pid_ > 0 && !exited ())
    interrupt_and_expect_exit ();
  if (pid_ > 0)
    g_spawn_close_pid (pid_);
  if (!log_path_.empty ())
    g_unlink (log_path_.c_str ());
}

bool
LaunchProcess::exited ()
{
  if (pid_ <= 0 || reaped_)
    return true;
  int status = 0;
  if (waitpid (pid_, &status, WNOHANG) != pid_)
    return false;
  reaped_ = true;
  exit_code_ = WIFEXITED (status) ? WEXITSTATUS (status) : -1;
  return true;
}

bool
LaunchProcess::expect_exit (int timeout_ms)
{
  if (wait_until ([this] { return exited (); }, timeout_ms))
    return true;
  ADD_FAILURE () << "`" << line_ << "` did not exit by itself within " << timeout_ms / 1000
                 << " s: it hangs. Its output:\n" << output () << "Its stacks:\n"
                 << process_stacks (pid_);
  stop (SIGKILL);
  return false;
}

bool
LaunchProcess::interrupt_and_expect_exit ()
{
  return exited () || stop (SIGINT);
}

bool
LaunchProcess::stop (int sig)
{
  int status = stop_child (pid_, sig, "`" + line_ + "`");
  pid_ = 0;  // reaped and closed by stop_child
  reaped_ = true;
  if (status < 0) {
    ADD_FAILURE () << "`" << line_ << "`'s output:\n" << output ();
    return false;
  }
  exit_code_ = WIFEXITED (status) ? WEXITSTATUS (status) : -1;
  return true;
}

std::string
LaunchProcess::output () const
{
  g_autofree gchar *text = nullptr;
  if (log_path_.empty () || !g_file_get_contents (log_path_.c_str (), &text, nullptr, nullptr))
    return {};
  return text;
}

std::unique_ptr<Pipeline>
start_producer (const std::string &description, int timeout_ms)
{
  auto p = std::make_unique<Pipeline> (description);
  EXPECT_TRUE (p->ok ()) << p->parse_error ();
  if (!p->ok ())
    return p;
  p->play ();
  EXPECT_TRUE (p->wait_registered (timeout_ms)) << p->all_errors ();
  return p;
}

std::unique_ptr<Pipeline>
start_consumer (const std::string &description)
{
  auto p = std::make_unique<Pipeline> (description);
  EXPECT_TRUE (p->ok ()) << p->parse_error ();
  if (p->ok ())
    p->play ();
  return p;
}

void
StreamingTest::SetUp ()
{
  ASSERT_TRUE (have ("rtcstreamsink") && have ("rtcstreamsrc"))
      << "the rtcstream plugin is not on GST_PLUGIN_PATH (run through meson test)";
  for (const char *f : {"webrtcbin", "nicesrc", "dtlssrtpenc", "vp8enc"})
    if (!have (f))
      GTEST_SKIP () << f << " is not installed";
}

void
ServerStreamingTest::SetUp ()
{
  StreamingTest::SetUp ();
  if (IsSkipped () || HasFatalFailure ())
    return;
  server = std::make_unique<ServerProcess> ();
  ASSERT_TRUE (server->ok ()) << "rtcstream-signalling did not start";
}

unsigned
stats_uint (GstElement *element, const char *field)
{
  GstStructure *s = nullptr;
  g_object_get (element, "stats", &s, nullptr);
  guint v = 0;
  if (s) {
    gst_structure_get_uint (s, field, &v);
    gst_structure_free (s);
  }
  return v;
}

std::vector<std::string>
consumer_stats_strings (GstElement *sink, const char *field)
{
  std::vector<std::string> out;
  GstStructure *s = nullptr;
  g_object_get (sink, "stats", &s, nullptr);
  if (!s)
    return out;
  for (gint i = 0; i < gst_structure_n_fields (s); i++) {
    const GValue *v = gst_structure_get_value (s, gst_structure_nth_field_name (s, i));
    if (GST_VALUE_HOLDS_STRUCTURE (v)) {
      const GValue *f = gst_structure_get_value (gst_value_get_structure (v), field);
      if (f && G_VALUE_HOLDS_STRING (f)) {
        out.emplace_back (g_value_get_string (f) ? g_value_get_string (f) : "");
      } else {
        g_autofree char *text = f ? gst_value_serialize (f) : nullptr;
        out.emplace_back (text ? text : "");
      }
    }
  }
  gst_structure_free (s);
  return out;
}

}  // namespace rtcstream::test
