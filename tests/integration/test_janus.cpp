// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Scale-out through a real Janus (Debian's /usr/bin/janus): the test writes a
// config dir with only the VideoRoom plugin and the HTTP transport, all on
// 127.0.0.1, starts Janus, publishes into a room with rtcstreamsink and
// watches with rtcstreamsrc.
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <sys/wait.h>
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"

using rtcstream::test::die_with_parent;
using rtcstream::test::have;
using rtcstream::test::consumer_stats_strings;
using rtcstream::test::kVideo;
using rtcstream::test::free_port;
using rtcstream::test::LaunchProcess;
using rtcstream::test::Pipeline;
using rtcstream::test::start_producer;

namespace {

constexpr const char *kJanus = "/usr/bin/janus";
constexpr const char *kJanusLib = "/usr/lib/x86_64-linux-gnu/janus";
constexpr int kTimeoutMs = 20000;


// Every .so of a plugin folder but the ones to keep, comma separated: Janus
// loads all it finds unless told not to.
std::string
disable_list (const std::string &folder, const std::vector<std::string> &keep)
{
  std::string out;
  g_autoptr (GDir) dir = g_dir_open (folder.c_str (), 0, nullptr);
  if (!dir)
    return out;
  while (const char *name = g_dir_read_name (dir)) {
    std::string n = name;
    if (n.size () < 3 || n.compare (n.size () - 3, 3, ".so") != 0)
      continue;
    bool kept = false;
    for (const std::string &k : keep)
      kept |= n == k;
    if (!kept)
      out += (out.empty () ? "" : ",") + n;
  }
  return out;
}

// Janus with a config of our own: its REST API on 127.0.0.1 only, no admin
// API, no HTTPS, no event handlers or loggers, no STUN.
class JanusProcess {
public:
  JanusProcess ()
  {
    g_autofree gchar *tmp = g_dir_make_tmp ("rtcstream-janus-XXXXXX", nullptr);
    if (!tmp)
      return;
    dir_ = tmp;
    port_ = free_port ();
    const std::string lib = kJanusLib;
    const std::string empty = dir_ + "/none";  // no event handlers, no loggers
    g_mkdir (empty.c_str (), 0700);
    write ("janus.jcfg",
        "general: {\n"
        "  configs_folder = \"" + dir_ + "\"\n"
        "  plugins_folder = \"" + lib + "/plugins\"\n"
        "  transports_folder = \"" + lib + "/transports\"\n"
        "  events_folder = \"" + empty + "\"\n"
        "  loggers_folder = \"" + empty + "\"\n"
        "  debug_level = 4\n"
        "}\n"
        // No STUN or TURN. The REST API listens on 127.0.0.1 only (below);
        // the media sockets are libnice's, one per peer, like webrtcbin's.
        // Janus 1.1.2 cannot put them on the loopback: libnice never gathers
        // there, and ice_enforce_list = "lo" only makes it fall back to every
        // interface, so the config does not pretend to.
        "nat: {\n"
        "  nice_debug = false\n"
        "}\n"
        "plugins: {\n"
        "  disable = \"" + disable_list (lib + "/plugins", {"libjanus_videoroom.so"}) + "\"\n"
        "}\n"
        "transports: {\n"
        "  disable = \"" + disable_list (lib + "/transports", {"libjanus_http.so"}) + "\"\n"
        "}\n"
        "events: {\n"
        "  broadcast = false\n"
        "}\n");
    write ("janus.transport.http.jcfg",
        "general: {\n"
        "  json = \"plain\"\n"
        "  base_path = \"/janus\"\n"
        "  http = true\n"
        "  port = " + std::to_string (port_) + "\n"
        "  ip = \"127.0.0.1\"\n"
        "  https = false\n"
        "}\n"
        "admin: {\n"
        "  admin_http = false\n"
        "  admin_https = false\n"
        "}\n");
    write ("janus.plugin.videoroom.jcfg",
        "general: {\n"
        "}\n"
        "room-1234: {\n"
        "  description = \"rtcstream test\"\n"
        "  publishers = 4\n"
        "  bitrate = 2000000\n"
        "  fir_freq = 2\n"
        "  videocodec = \"vp8,h264\"\n"
        "  audiocodec = \"opus\"\n"
        "}\n"
        "room-1235: {\n"
        "  description = \"rtcstream test, 256 kbit/s\"\n"
        "  publishers = 2\n"
        "  bitrate = 256000\n"
        "  videocodec = \"vp8\"\n"
        "  audiocodec = \"opus\"\n"
        "}\n");
    spawn ();
  }

  // SIGKILL, and wait for it to be gone: no goodbye to anyone.
  void kill_hard () { rtcstream::test::kill_and_reap (pid_); }

  // Starts it again with the same config and port; true once it answers.
  bool restart ()
  {
    kill_hard ();
    spawn ();
    return ready_;
  }

private:
  void spawn ()
  {
    ready_ = false;
    const std::string cfg = dir_ + "/janus.jcfg";
    const std::string log = dir_ + "/janus.log";
    std::vector<const char *> argv = {kJanus, "-F", dir_.c_str (), "-C", cfg.c_str (),
        "-N", "-L", log.c_str (), nullptr};
    g_autoptr (GError) err = nullptr;
    if (!g_spawn_async (nullptr, const_cast<gchar **> (argv.data ()), nullptr,
            (GSpawnFlags) (G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
                G_SPAWN_STDERR_TO_DEV_NULL), die_with_parent, nullptr, &pid_, &err)) {
      pid_ = 0;
      return;
    }
    ready_ = wait_until_answering ();
  }

public:
  ~JanusProcess ()
  {
    if (pid_ > 0) {
      kill (pid_, SIGTERM);
      int status = 0;
      for (int i = 0; i < 50 && waitpid (pid_, &status, WNOHANG) == 0; i++)
        g_usleep (100 * 1000);
      if (waitpid (pid_, &status, WNOHANG) == 0) {
        kill (pid_, SIGKILL);
        waitpid (pid_, &status, 0);
      }
      g_spawn_close_pid (pid_);
    }
    if (!dir_.empty () && !HasFailure ()) {
      for (const char *f : {"janus.jcfg", "janus.transport.http.jcfg",
               "janus.plugin.videoroom.jcfg", "janus.log"})
        g_unlink ((dir_ + "/" + f).c_str ());
      g_rmdir ((dir_ + "/none").c_str ());
      g_rmdir (dir_.c_str ());
    }
  }

  bool ok () const { return ready_; }
  std::string uri (const std::string &room, const std::string &display) const
  {
    return "\"janus+http://127.0.0.1:" + std::to_string (port_) + "/janus?room=" + room +
        "&display=" + display + "\"";
  }
  std::string log_path () const { return dir_ + "/janus.log"; }

private:
  static bool HasFailure () { return ::testing::Test::HasFailure (); }

  void write (const char *name, const std::string &text)
  {
    std::ofstream (dir_ + "/" + name) << text;
  }

  // Janus answers `info` on its REST API once its transport is up.
  bool wait_until_answering ()
  {
    const std::string url = "http://127.0.0.1:" + std::to_string (port_) + "/janus/info";
    g_autoptr (SoupSession) http = soup_session_new_with_options ("timeout", 2, nullptr);
    for (int i = 0; i < 100; i++) {
      int status = 0;
      if (waitpid (pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;  // Janus exited (bad config?)
        return false;
      }
      g_autoptr (SoupMessage) msg = soup_message_new ("GET", url.c_str ());
      g_autoptr (GBytes) body = soup_session_send_and_read (http, msg, nullptr, nullptr);
      if (body && soup_message_get_status (msg) == SOUP_STATUS_OK) {
        gsize len = 0;
        const char *data = static_cast<const char *> (g_bytes_get_data (body, &len));
        if (data && std::string (data, len).find ("server_info") != std::string::npos)
          return true;
      }
      g_usleep (100 * 1000);
    }
    return false;
  }

  std::string dir_;
  unsigned port_ = 0;
  GPid pid_ = 0;
  bool ready_ = false;
};

class Janus : public ::testing::Test {
protected:
  void SetUp () override
  {
    ASSERT_TRUE (have ("rtcstreamsink") && have ("rtcstreamsrc"))
        << "the rtcstream plugin is not on GST_PLUGIN_PATH (run through meson test)";
    if (!g_file_test (kJanus, G_FILE_TEST_IS_EXECUTABLE))
      GTEST_SKIP () << kJanus << " is not installed";
    for (const char *f : {"webrtcbin", "nicesrc", "dtlssrtpenc", "vp8enc", "opusenc"})
      if (!have (f))
        GTEST_SKIP () << f << " is not installed";
    janus = std::make_unique<JanusProcess> ();
    ASSERT_TRUE (janus->ok ()) << "Janus did not start; see " << janus->log_path ();
  }

  std::unique_ptr<Pipeline> publisher (const std::string &display, const std::string &room = "1234")
  {
    return start_producer (kVideo + " ! rtcstreamsink name=sink uri=" +
        janus->uri (room, display) + " audiotestsrc is-live=true ! sink.audio_0", kTimeoutMs);
  }

  std::unique_ptr<JanusProcess> janus;
};

// Publish once into the room, watch through Janus, and end when the
// publisher leaves.
TEST_F (Janus, SubscriberDecodesAndEndsWithPublisher)
{
  auto prod = publisher ("cam");
  ASSERT_TRUE (prod->ok () && prod->errors ().empty ());
  Pipeline cons ("rtcstreamsrc name=src uri=" + janus->uri ("1234", "cam") +
      " src. ! queue ! videoconvert ! fakesink name=v src. ! queue ! fakesink name=a");
  ASSERT_TRUE (cons.ok ()) << cons.parse_error ();
  cons.play ();
  ASSERT_TRUE (cons.wait_for ([&] {
    return (cons.element ("v") && cons.element ("a")) || !cons.errors ().empty ();
  }, 1000));
  auto v = cons.count ("v");
  auto a = cons.count ("a");
  EXPECT_TRUE (cons.wait_for ([&] { return v->frames >= 60 || !cons.errors ().empty (); },
      kTimeoutMs)) << "frames " << v->frames << "\n" << cons.all_errors ();
  EXPECT_GE (v->frames, 60) << cons.all_errors () << " (Janus log: " << janus->log_path () << ")";
  std::string both = v->caps_string () + " " + a->caps_string ();
  EXPECT_NE (both.find ("video/x-raw"), std::string::npos) << both;
  EXPECT_NE (both.find ("width=(int)320"), std::string::npos) << both;
  EXPECT_NE (both.find ("audio/x-raw"), std::string::npos) << both;
  EXPECT_TRUE (cons.errors ().empty ()) << cons.all_errors ();

  // The publisher stops: Janus drops the feed, the subscriber ends with EOS.
  prod->stop ();
  EXPECT_TRUE (cons.wait_for ([&] { return cons.got_eos () || !cons.errors ().empty (); },
      kTimeoutMs));
  EXPECT_TRUE (cons.got_eos ()) << cons.all_errors ();
  EXPECT_TRUE (cons.errors ().empty ()) << cons.all_errors ();
}

// Janus tells a publisher the room's `bitrate` cap with REMB (RTCP); the
// sink's estimate for its one consumer (Janus) stays under it, and so does
// the video encoder.
TEST_F (Janus, TheRoomsBitrateCapReachesThePublishersEncoder)
{
  auto prod = publisher ("cam", "1235");
  ASSERT_TRUE (prod->ok () && prod->errors ().empty ()) << prod->all_errors ();
  GstElement *sink = prod->element ("sink");
  auto first = [&] (const char *field) {
    auto v = consumer_stats_strings (sink, field);
    return v.empty () || v[0].empty () ? 0ul : std::stoul (v[0]);
  };
  EXPECT_TRUE (prod->wait_for ([&] { return first ("remb") > 0; }, kTimeoutMs))
      << "no REMB from Janus; feedback " << consumer_stats_strings (sink, "feedback")[0];
  EXPECT_EQ (first ("remb"), 256000u);
  EXPECT_TRUE (prod->wait_for ([&] {
    return first ("bitrate-target") > 0 && first ("bitrate-target") <= 256000;
  }, 5000)) << "bitrate-target " << first ("bitrate-target");
  EXPECT_LE (first ("bandwidth-estimate"), 256000u);
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
}

// Janus relays the media (an SFU), so a Janus that goes away takes the
// stream with it. While it does not answer, the publisher warns and polls
// again (reconnect-timeout); a restarted Janus forgot our session: an error
// that says so.
TEST_F (Janus, LostJanusIsAWarningThenARestartedOneAnError)
{
  auto prod = publisher ("cam");
  ASSERT_TRUE (prod->ok () && prod->errors ().empty ());
  // Published for good: a subscriber gets the stream through Janus.
  Pipeline cons ("rtcstreamsrc uri=" + janus->uri ("1234", "cam") + " ! fakesink name=v");
  ASSERT_TRUE (cons.ok ()) << cons.parse_error ();
  cons.play ();
  std::shared_ptr<rtcstream::test::FrameCounter> v;
  ASSERT_TRUE (cons.wait_for ([&] { return cons.element ("v") != nullptr; }, kTimeoutMs));
  v = cons.count ("v");
  ASSERT_TRUE (cons.wait_for ([&] { return v->frames >= 30; }, kTimeoutMs)) << cons.all_errors ();
  janus->kill_hard ();
  EXPECT_TRUE (prod->wait_for ([&] { return !prod->warnings ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (prod->has_warning_containing ("Lost Janus at")) << "no warning";
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
  ASSERT_TRUE (janus->restart ()) << "Janus did not start again; see " << janus->log_path ();
  EXPECT_TRUE (prod->wait_for ([&] { return !prod->errors ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (prod->has_error_containing ("forgot our session")) << prod->all_errors ();
  cons.pump (100);
  EXPECT_TRUE (cons.has_warning_containing ("Lost Janus at")) << "no warning on the subscriber";
}

// Watched through Janus with a plain gst-launch line: it ends (exit 0) once
// its sink has had enough, and the publisher goes on.
TEST_F (Janus, GstLaunchViewerEndsWhenItsSinkHasEnough)
{
  auto prod = publisher ("cam");
  ASSERT_TRUE (prod->ok () && prod->errors ().empty ()) << prod->all_errors ();
  LaunchProcess viewer ("gst-launch-1.0 rtcstreamsrc uri=" + janus->uri ("1234", "cam") +
      " ! videoconvert ! fakesink num-buffers=90");
  ASSERT_TRUE (viewer.expect_exit (30000));
  EXPECT_EQ (viewer.exit_code (), 0) << viewer.output () << " (Janus log: "
                                     << janus->log_path () << ")";
  EXPECT_TRUE (viewer.printed ("Got EOS from element \"pipeline0\"")) << viewer.output ();
  prod->pump (500);
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
}

// A room Janus does not have, or no Janus at all: both elements fail with a
// sentence naming what is wrong.
TEST_F (Janus, BadRoomOrAddressIsAClearError)
{
  const std::string nowhere = "\"janus+http://127.0.0.1:" + std::to_string (free_port ()) +
      "/janus?room=1234&display=cam\"";
  for (const char *element : {"rtcstreamsink", "rtcstreamsrc"}) {
    const bool sink = std::string (element) == "rtcstreamsink";
    for (const std::string &uri : {janus->uri ("999", "cam"), nowhere}) {
      Pipeline p (sink ? kVideo + " ! rtcstreamsink uri=" + uri
                       : "rtcstreamsrc uri=" + uri + " ! fakesink");
      ASSERT_TRUE (p.ok ()) << p.parse_error ();
      p.play ();
      EXPECT_TRUE (p.wait_for ([&] { return !p.errors ().empty (); }, kTimeoutMs)) << element;
      if (uri == nowhere) {
        EXPECT_TRUE (p.has_error_containing ("Is Janus running there"))
            << element << ": " << p.all_errors ();
      } else {
        EXPECT_TRUE (p.has_error_containing ("No such room")) << element << ": " << p.all_errors ();
        EXPECT_TRUE (p.has_error_containing ("room 999")) << element << ": " << p.all_errors ();
      }
    }
  }
}

// A second publisher under a display name in use is refused; a subscriber for
// a name nobody publishes gives up after producer-timeout.
TEST_F (Janus, TakenAndMissingDisplayNames)
{
  auto prod = publisher ("cam");
  ASSERT_TRUE (prod->ok () && prod->errors ().empty ());
  Pipeline twin (kVideo + " ! rtcstreamsink uri=" + janus->uri ("1234", "cam"));
  ASSERT_TRUE (twin.ok ()) << twin.parse_error ();
  twin.play ();
  EXPECT_TRUE (twin.wait_for ([&] { return !twin.errors ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (twin.has_error_containing ("already in use")) << twin.all_errors ();

  Pipeline lost ("rtcstreamsrc producer-timeout=1500 uri=" + janus->uri ("1234", "nobody") +
      " ! fakesink");
  ASSERT_TRUE (lost.ok ()) << lost.parse_error ();
  lost.play ();
  EXPECT_TRUE (lost.wait_for ([&] { return !lost.errors ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (lost.has_error_containing ("No publisher named 'nobody'")) << lost.all_errors ();
}

}  // namespace

