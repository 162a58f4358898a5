// SPDX-License-Identifier: LGPL-2.1-or-later
//
// What the integration tests share: the real signalling server as a child
// process, pipelines from gst-launch descriptions with bounded waits on their
// buses, and frame counters on named elements.
#pragma once

#include <gst/gst.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace rtcstream::test {

// A live 320x240 30 fps test pattern, the video most tests publish.
extern const std::string kVideo;

// A GSpawnChildSetupFunc: the child is killed when the test process dies,
// so that a crashed or killed test leaves no server behind.
void die_with_parent (gpointer unused);

// A self-signed certificate for 127.0.0.1 made by openssl in dir, as
// dir/cert.pem and dir/key.pem. False when openssl failed.
bool make_test_certificate (const std::string &dir, std::string &cert, std::string &key);

// The stacks of every thread of process pid, from gdb (for hang reports).
std::string process_stacks (GPid pid);

// Stops a child of ours (spawned with G_SPAWN_DO_NOT_REAP_CHILD): sends sig,
// and waits at most bound_ms for it to exit. One that does not hangs: that is
// a test failure (ADD_FAILURE, naming what and carrying its stacks), and it
// is killed. Returns its wait status, or -1 when it hung. The same bound as
// tests/browser/harness.mjs's stop () (10 s), which the browser and doc-tests
// use for the gst-launch processes they start.
constexpr int kStopBoundMs = 10000;
int stop_child (GPid pid, int sig, const std::string &what, int bound_ms = kStopBoundMs);

// SIGKILL to a child of ours (spawned with G_SPAWN_DO_NOT_REAP_CHILD), no
// goodbye to anyone; waits for it to be gone and sets pid to 0. Nothing
// when pid is 0.
void kill_and_reap (GPid &pid);

// Whether GStreamer has an element factory of this name.
bool have (const char *factory);

// A port on 127.0.0.1 free for both TCP and UDP a moment ago (0 if none was
// found), for servers that a test starts with a port of its choosing.
unsigned free_port ();

// The real rtcstream-signalling binary ($RTCSTREAM_SIGNALLING) on a free port.
class ServerProcess {
public:
  explicit ServerProcess (const std::vector<std::string> &extra_args = {});
  ~ServerProcess ();
  bool ok () const { return pid_ > 0 && port_ > 0; }
  // SIGKILL, no goodbye to anyone; waits for it to be gone.
  void kill_hard ();
  // Starts it again, with the same arguments, on the same port. True once it
  // listens.
  bool restart ();
  unsigned port () const { return port_; }
  // rtcstream://127.0.0.1:PORT/stream (scheme rtcstreams for TLS)
  std::string uri (const std::string &stream, const char *scheme = "rtcstream") const;
  std::string ws_url () const;                         // ws://127.0.0.1:PORT/ws
  bool alive () const;

private:
  void spawn (unsigned port);

  std::vector<std::string> extra_args_;
  GPid pid_ = 0;
  unsigned port_ = 0;
};

// Counts buffers arriving at an element's sink pad and keeps their caps.
struct FrameCounter {
  std::atomic<int> frames{0};
  mutable std::mutex lock;
  GstCaps *caps = nullptr;  // last caps, guarded by lock
  std::function<void (GstBuffer *, GstCaps *)> inspect;  // set before the probe, then read-only
  ~FrameCounter ();
  std::string caps_string () const;
};

class Pipeline {
public:
  explicit Pipeline (const std::string &description);
  ~Pipeline ();

  GstElement *get () const { return pipeline_; }
  GstElement *element (const char *name) const;  // borrowed
  bool ok () const { return pipeline_ != nullptr; }
  const std::string &parse_error () const { return parse_error_; }

  GstStateChangeReturn play ();
  void stop ();

  // Counts frames reaching the sink pad of element `name` (dynamic pads ok).
  // inspect, if given, sees every buffer (on the streaming thread).
  using Inspect = std::function<void (GstBuffer *, GstCaps *)>;
  std::shared_ptr<FrameCounter> count (const char *name, Inspect inspect = nullptr);
  // Same, for an element found otherwise (e.g. playbin's video-sink).
  std::shared_ptr<FrameCounter> count (GstElement *element, Inspect inspect = nullptr);

  // Pumps the bus until pred() holds or timeout_ms passes. Returns pred().
  bool wait_for (const std::function<bool ()> &pred, int timeout_ms);
  // Pumps the bus for ms.
  void pump (int ms);

  // Pumps the bus until an rtcstreamsink inside posted rtcstream-registered
  // (its stream is listed) or an error came, at most timeout_ms. True when
  // registered without any error.
  bool wait_registered (int timeout_ms);

  bool got_eos () const { return eos_; }
  const std::vector<std::string> &errors () const { return errors_; }
  const std::vector<std::string> &warnings () const { return warnings_; }
  std::string all_errors () const;
  bool has_error_containing (const std::string &text) const;
  bool has_warning_containing (const std::string &text) const;
  bool reached_playing () const { return playing_; }
  bool got_element_message (const char *name) const;
  int element_message_count (const char *name) const;

private:
  void handle (GstMessage *msg);

  GstElement *pipeline_ = nullptr;
  GstBus *bus_ = nullptr;
  std::string parse_error_;
  bool eos_ = false;
  bool playing_ = false;
  std::vector<std::string> errors_;
  std::vector<std::string> warnings_;
  std::vector<std::string> element_messages_;
};

// A producer from a gst-launch description (an rtcstreamsink inside),
// playing and registered with its stream within timeout_ms; a parse error,
// a bus error or no registration is a test failure (EXPECT), and the
// pipeline is returned all the same.
std::unique_ptr<Pipeline> start_producer (const std::string &description, int timeout_ms);

// A consumer from a gst-launch description, set playing; a parse error is a
// test failure (EXPECT), and the pipeline is returned all the same.
std::unique_ptr<Pipeline> start_consumer (const std::string &description);

// The fixture of tests that stream between our elements: it fails when our
// plugin is missing (a build problem) and skips when an element every
// session needs (webrtcbin, libnice, DTLS, vp8enc) is not installed. A
// subclass's SetUp calls it first and returns if IsSkipped () or
// HasFatalFailure ().
class StreamingTest : public ::testing::Test {
protected:
  void SetUp () override;
};

// StreamingTest with the real rtcstream-signalling started (server) on a
// free port; a subclass's SetUp calls it first, as StreamingTest's.
class ServerStreamingTest : public StreamingTest {
protected:
  void SetUp () override;
  std::unique_ptr<ServerProcess> server;
};

// Iterates the default main context until pred() holds or timeout_ms passes.
bool wait_until (const std::function<bool ()> &pred, int timeout_ms);

// A command line run as a user types it (split as a shell would, quotes
// included, nothing expanded), e.g. "gst-launch-1.0 rtcstreamsrc uri=... !
// fakesink": found on PATH, with the test's environment (GST_PLUGIN_PATH,
// GST_REGISTRY), its stdout and stderr collected in a file. One still
// running when the object goes is stopped with SIGINT (stop_child: it must
// exit within kStopBoundMs, else the test fails with its stacks).
class LaunchProcess {
public:
  explicit LaunchProcess (const std::string &command_line);
  ~LaunchProcess ();
  LaunchProcess (const LaunchProcess &) = delete;
  LaunchProcess &operator= (const LaunchProcess &) = delete;

  const std::string &command_line () const { return line_; }
  // Whether it has exited; then exit_code () is its exit status (-1 when a
  // signal ended it).
  bool exited ();
  int exit_code () const { return exit_code_; }
  // Waits at most timeout_ms for it to exit by itself. One that does not
  // hangs: a test failure with its output and stacks, and it is killed.
  bool expect_exit (int timeout_ms);
  // Ctrl-C: SIGINT, then it must exit within kStopBoundMs (stop_child).
  bool interrupt_and_expect_exit ();
  // SIGKILL, as a crash or the OOM killer would end it; reaps it.
  bool kill () { return exited () || stop (SIGKILL); }
  // Its process id while it runs (for reading /proc), 0 once reaped.
  GPid pid () const { return reaped_ ? 0 : pid_; }
  // Everything it printed so far.
  std::string output () const;
  bool printed (const std::string &text) const
  {
    return output ().find (text) != std::string::npos;
  }

private:
  // stop_child with sig; a hang adds the output to the failure.
  bool stop (int sig);

  std::string line_;
  std::string log_path_;
  GPid pid_ = 0;
  bool reaped_ = false;
  int exit_code_ = -1;
};

// Reads an unsigned field of the GstStructure property `stats` of element.
unsigned stats_uint (GstElement *element, const char *field);
// A field of every per-consumer stats structure of an rtcstreamsink: a
// string ("codecs") as it is, a number as its text; empty where missing.
std::vector<std::string> consumer_stats_strings (GstElement *sink, const char *field);
// All "codecs" strings of per-consumer stats of an rtcstreamsink.
inline std::vector<std::string> consumer_codecs (GstElement *sink)
{
  return consumer_stats_strings (sink, "codecs");
}

}  // namespace rtcstream::test
