// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The WHIP/WHEP endpoints of the real rtcstream-signalling process: aiortc
// (tests/interop/whip_aiortc_peer.py, Debian's python3-aiortc) plays a
// pipeline's stream over WHEP and publishes a test pattern over WHIP to an
// rtcstreamsrc pipeline; raw HTTP requests check every refusal; DELETE takes
// a stream out of the hub; a player killed without DELETE is removed.
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "harness.h"
#include "../server/whip-offer.h"

using rtcstream::test::die_with_parent;
using rtcstream::test::have;
using rtcstream::test::kVideo;
using rtcstream::test::free_port;
using rtcstream::test::LaunchProcess;
using rtcstream::test::Pipeline;
using rtcstream::test::start_producer;
using rtcstream::test::ServerProcess;

namespace {

constexpr int kTimeoutMs = 20000;
constexpr int kFrames = 60;
constexpr char kPython[] = "/usr/bin/python3";

bool
have_aiortc ()
{
  const char *argv[] = { kPython, "-c", "import aiortc, av, numpy", nullptr };
  gint status = -1;
  if (!g_spawn_sync (nullptr, const_cast<char **> (argv), nullptr,
      static_cast<GSpawnFlags> (G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL),
      nullptr, nullptr, nullptr, nullptr, &status, nullptr))
    return false;
  return g_spawn_check_wait_status (status, nullptr);
}

struct HttpReply {
  guint status = 0;
  std::string body;
  std::string location;
  std::string www_authenticate;
  std::string accept_post;
  std::string cors;
};

// One blocking request to the server (a separate process). A chunked body
// has no Content-Length.
HttpReply
http (const std::string &method, const std::string &url, const char *content_type = nullptr,
    const std::string &body = "", const char *token = nullptr, bool chunked = false)
{
  HttpReply out;
  g_autoptr (SoupSession) session = soup_session_new_with_options ("timeout", 20u, nullptr);
  g_autoptr (SoupMessage) msg = soup_message_new (method.c_str (), url.c_str ());
  if (!msg)
    return out;
  SoupMessageHeaders *req = soup_message_get_request_headers (msg);
  if (token)
    soup_message_headers_replace (req, "Authorization", (std::string ("Bearer ") + token).c_str ());
  if (content_type) {
    g_autoptr (GBytes) bytes = g_bytes_new (body.data (), body.size ());
    if (chunked) {
      g_autoptr (GInputStream) stream = g_memory_input_stream_new_from_bytes (bytes);
      soup_message_set_request_body (msg, content_type, stream, -1);
    } else {
      soup_message_set_request_body_from_bytes (msg, content_type, bytes);
    }
  }
  g_autoptr (GError) error = nullptr;
  g_autoptr (GBytes) reply = soup_session_send_and_read (session, msg, nullptr, &error);
  if (!reply)
    return out;
  out.status = soup_message_get_status (msg);
  gsize size = 0;
  const auto *data = static_cast<const char *> (g_bytes_get_data (reply, &size));
  out.body.assign (data ? data : "", size);
  SoupMessageHeaders *h = soup_message_get_response_headers (msg);
  auto header = [h] (const char *name) {
    const char *v = soup_message_headers_get_one (h, name);
    return std::string (v ? v : "");
  };
  out.location = header ("Location");
  out.www_authenticate = header ("WWW-Authenticate");
  out.accept_post = header ("Accept-Post");
  out.cors = header ("Access-Control-Allow-Origin");
  return out;
}

// tests/interop/whip_aiortc_peer.py as a child process; its stdout is
// collected without blocking, closing its stdin ends a publisher.
class AiortcPeer {
public:
  explicit AiortcPeer (const std::vector<std::string> &args)
  {
    std::vector<const char *> argv = { kPython, WHIP_PEER_SCRIPT };
    for (const std::string &a : args)
      argv.push_back (a.c_str ());
    argv.push_back (nullptr);
    gint in = -1, out = -1;
    if (!g_spawn_async_with_pipes (nullptr, const_cast<char **> (argv.data ()), nullptr,
        G_SPAWN_DO_NOT_REAP_CHILD, die_with_parent, nullptr, &pid_, &in, &out, nullptr, nullptr))
      return;
    stdin_ = in;
    stdout_ = out;
    fcntl (stdout_, F_SETFL, fcntl (stdout_, F_GETFL) | O_NONBLOCK);
  }

  ~AiortcPeer ()
  {
    close_stdin ();
    if (pid_ > 0 && !exited ()) {
      kill (pid_, SIGTERM);
      waitpid (pid_, nullptr, 0);
    }
    if (stdout_ >= 0)
      close (stdout_);
  }

  bool ok () const { return pid_ > 0; }

  const std::string &output ()
  {
    char buf[4096];
    ssize_t n;
    while (stdout_ >= 0 && (n = read (stdout_, buf, sizeof buf)) > 0)
      output_.append (buf, static_cast<std::size_t> (n));
    return output_;
  }

  bool said (const std::string &text) { return output ().find (text) != std::string::npos; }

  // The number after "FRAMES " once the player is done, else -1.
  int frames ()
  {
    const std::string &o = output ();
    const std::size_t at = o.find ("FRAMES ");
    return at == std::string::npos ? -1 : std::atoi (o.c_str () + at + 7);
  }

  // The session URL after "PUBLISHING " (or "PLAYING "), else empty.
  std::string location (const std::string &word = "PUBLISHING ")
  {
    const std::string &o = output ();
    const std::size_t at = o.find (word);
    if (at == std::string::npos)
      return {};
    const std::size_t end = o.find ('\n', at);
    return end == std::string::npos ? std::string ()
        : o.substr (at + word.size (), end - at - word.size ());
  }

  // Ends the peer without a goodbye: no DELETE, no RTCP BYE, no ICE close.
  void kill_hard ()
  {
    if (pid_ > 0 && !exited ()) {
      kill (pid_, SIGKILL);
      waitpid (pid_, &status_, 0);
      reaped_ = true;
    }
  }

  bool exited ()
  {
    if (pid_ <= 0 || reaped_)
      return true;
    if (waitpid (pid_, &status_, WNOHANG) == pid_)
      reaped_ = true;
    return reaped_;
  }

  void close_stdin ()
  {
    if (stdin_ >= 0)
      close (stdin_);
    stdin_ = -1;
  }

private:
  GPid pid_ = 0;
  int stdin_ = -1;
  int stdout_ = -1;
  int status_ = 0;
  bool reaped_ = false;
  std::string output_;
};

class WhipServer : public ::testing::Test {
protected:
  void SetUp () override
  {
    ASSERT_TRUE (have ("rtcstreamsink") && have ("rtcstreamsrc"))
        << "the rtcstream plugin is not on GST_PLUGIN_PATH (run through meson test)";
    for (const char *f : { "webrtcbin", "nicesrc", "dtlssrtpenc", "vp8enc", "vp8dec" })
      if (!have (f))
        GTEST_SKIP () << f << " is not installed";
    if (!have_aiortc ())
      GTEST_SKIP () << kPython << " cannot import aiortc (install python3-aiortc)";
  }

  void start_server (const std::vector<std::string> &args = {})
  {
    server = std::make_unique<ServerProcess> (args);
    ASSERT_TRUE (server->ok ()) << "rtcstream-signalling did not start";
    base = "http://127.0.0.1:" + std::to_string (server->port ());
  }

  // `token`: its auth-token (a server with --whip-token needs it to publish).
  std::unique_ptr<Pipeline> publisher (const std::string &stream, const std::string &token = "")
  {
    return start_producer (
        "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 ! "
        "rtcstreamsink uri=" + server->uri (stream) +
        (token.empty () ? "" : " auth-token=" + token), kTimeoutMs);
  }

  std::unique_ptr<ServerProcess> server;
  std::string base;
};

// A pipeline publishes; aiortc watches it over WHEP (with the WHEP token)
// and decodes frames. Before that, every kind of bad request is refused
// with its status while the publisher keeps going.
TEST_F (WhipServer, BadRequestsAreRefusedAndWhepPlaysAPipelineStream)
{
  start_server ({ "--whip-token", "pub-secret", "--whep-token", "play-secret",
      "--max-sdp-size", "8192" });
  auto prod = publisher ("cam", "pub-secret");
  ASSERT_TRUE (prod->ok () && prod->errors ().empty ());
  const std::string whip = base + "/whip/new";
  const std::string whep = base + "/whep/cam";
  const char *sdp = "application/sdp";

  // CORS preflight and discovery need no token.
  HttpReply r = http ("OPTIONS", whip);
  EXPECT_EQ (r.status, 204u);
  EXPECT_EQ (r.accept_post, "application/sdp");
  EXPECT_EQ (r.cors, "*");

  r = http ("POST", whip, sdp, static_offer ("sendonly"));
  EXPECT_EQ (r.status, 401u) << r.body;
  EXPECT_NE (r.www_authenticate.find ("Bearer"), std::string::npos);
  r = http ("POST", whip, sdp, static_offer ("sendonly"), "play-secret");
  EXPECT_EQ (r.status, 403u) << "the WHEP token must not open WHIP: " << r.body;
  r = http ("POST", whep, sdp, static_offer ("recvonly"), "wrong");
  EXPECT_EQ (r.status, 401u) << r.body;

  r = http ("POST", whip, "text/plain", static_offer ("sendonly"), "pub-secret");
  EXPECT_EQ (r.status, 415u) << r.body;
  r = http ("POST", whip, sdp, "hello, server", "pub-secret");
  EXPECT_EQ (r.status, 400u) << r.body;
  EXPECT_NE (r.body.find ("SDP"), std::string::npos) << r.body;
  r = http ("POST", whip, sdp, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", "pub-secret");
  EXPECT_EQ (r.status, 400u) << r.body;
  EXPECT_NE (r.body.find ("no media"), std::string::npos) << r.body;
  std::string many;
  for (int i = 0; i < 20; i++)
    many += "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n";
  r = http ("POST", whip, sdp, static_offer ("sendonly", many), "pub-secret");
  EXPECT_EQ (r.status, 400u) << "20 more media must be refused: " << r.body;
  std::string binary = static_offer ("sendonly");
  binary[40] = '\x01';
  r = http ("POST", whip, sdp, binary, "pub-secret");
  EXPECT_EQ (r.status, 400u) << r.body;
  r = http ("POST", whip, sdp, std::string (
      static_offer ("sendonly")).replace (static_offer ("sendonly").find ("VP8"), 3, "AV1X"),
      "pub-secret");
  EXPECT_EQ (r.status, 400u) << "an offer without any codec we take: " << r.body;
  r = http ("POST", whip, sdp, static_offer ("sendonly") + std::string (9000, 'a'), "pub-secret");
  EXPECT_EQ (r.status, 413u) << r.body;
  r = http ("POST", whip, sdp, static_offer ("sendonly"), "pub-secret", true);
  EXPECT_EQ (r.status, 411u) << "a body of unknown length: " << r.body;

  r = http ("POST", base + "/whip/cam", sdp, static_offer ("sendonly"), "pub-secret");
  EXPECT_EQ (r.status, 409u) << "cam is published by the pipeline: " << r.body;
  r = http ("POST", base + "/whep/nobody", sdp, static_offer ("recvonly"), "play-secret");
  EXPECT_EQ (r.status, 404u) << r.body;
  EXPECT_NE (r.body.find ("nobody"), std::string::npos) << r.body;
  r = http ("PATCH", base + "/whep/cam/0123456789abcdef", "application/trickle-ice-sdpfrag",
      "a=candidate:1 1 UDP 1 127.0.0.1 9 typ host\r\n", "play-secret");
  EXPECT_EQ (r.status, 404u) << r.body;
  r = http ("DELETE", base + "/whep/cam/0123456789abcdef", nullptr, "", "play-secret");
  EXPECT_EQ (r.status, 404u) << r.body;
  r = http ("GET", whep);
  EXPECT_EQ (r.status, 405u) << r.body;

  ASSERT_TRUE (server->alive ());
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();

  // The player also asks for audio, which this stream lacks, and (being
  // aiortc) gives each media its own ICE credentials inside its BUNDLE group.
  AiortcPeer player ({ "play", whep, "--audio", "--frames", std::to_string (kFrames), "--token",
      "play-secret" });
  ASSERT_TRUE (player.ok ());
  prod->wait_for ([&] { return player.exited (); }, 3 * kTimeoutMs / 2);
  EXPECT_GE (player.frames (), kFrames) << player.output ();
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
  EXPECT_TRUE (server->alive ());
}

// WHEP offers whose media differ from the stream's, in either m-line order:
// each is answered (a missing medium's m-line rejected) or refused with a
// 4xx, and the server lives through all of them. The first one, audio
// before video to a video-only stream, used to abort the whole server.
TEST_F (WhipServer, WhepOffersInAnyMediaOrderAreAnsweredOrRefused)
{
  start_server ();
  auto video = publisher ("cam");
  ASSERT_TRUE (video->ok () && video->errors ().empty ());
  auto both = start_producer ("rtcstreamsink name=s uri=" + server->uri ("stage") +
      " videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 ! s.video_0"
      " audiotestsrc is-live=true ! s.audio_0", kTimeoutMs);
  ASSERT_TRUE (both->ok () && both->errors ().empty ());

  struct Case {
    const char *stream;
    std::vector<std::string> media;  // the player's flags
  };
  const Case cases[] = {
    { "cam", { "--audio-first" } },    // audio m-line first, the stream has no audio
    { "cam", { "--audio" } },          // video first, then audio it lacks
    { "stage", { "--audio-first" } },  // both media, audio first
    { "stage", {} },                   // video only from a stream with audio too
  };
  for (const Case &c : cases) {
    std::vector<std::string> args = { "play", base + "/whep/" + c.stream, "--frames", "30" };
    args.insert (args.end (), c.media.begin (), c.media.end ());
    AiortcPeer player (args);
    ASSERT_TRUE (player.ok ());
    video->wait_for ([&] { return player.exited (); }, 3 * kTimeoutMs / 2);
    EXPECT_GE (player.frames (), 30) << c.stream << " " << (c.media.empty () ? "" : c.media[0])
        << ": " << player.output ();
    ASSERT_TRUE (server->alive ()) << "the server died on a WHEP offer for " << c.stream;
  }

  // Audio only, from a stream that has none: refused, and nothing else moves.
  std::string audio_only = static_offer ("recvonly");
  audio_only.replace (audio_only.find ("m=video 9 UDP/TLS/RTP/SAVPF 96"), 30,
      "m=audio 9 UDP/TLS/RTP/SAVPF 111");
  audio_only.replace (audio_only.find ("a=rtpmap:96 VP8/90000"), 21, "a=rtpmap:111 opus/48000/2");
  HttpReply r = http ("POST", base + "/whep/cam", "application/sdp", audio_only);
  EXPECT_EQ (r.status, 406u) << r.body;
  EXPECT_TRUE (server->alive ());
  EXPECT_TRUE (video->errors ().empty ()) << video->all_errors ();
  EXPECT_TRUE (both->errors ().empty ()) << both->all_errors ();
}

// aiortc publishes over WHIP; an rtcstreamsrc pipeline decodes it; a PATCH
// adds a candidate; DELETE takes the stream out of the hub.
TEST_F (WhipServer, AiortcPublishesOverWhipToAPipelineUntilDeleted)
{
  start_server ();
  AiortcPeer publisher ({ "publish", base + "/whip/ai", "--seconds", "60" });
  ASSERT_TRUE (publisher.ok ());
  Pipeline cons ("rtcstreamsrc uri=" + server->uri ("ai") + " ! videoconvert ! "
      "fakesink name=out sync=false");
  ASSERT_TRUE (cons.ok ()) << cons.parse_error ();
  ASSERT_TRUE (cons.wait_for ([&] { return !publisher.location ().empty () ||
                                    publisher.exited (); }, kTimeoutMs))
      << publisher.output ();
  const std::string location = publisher.location ();
  ASSERT_FALSE (location.empty ()) << publisher.output ();
  EXPECT_EQ (location.rfind (base + "/whip/ai/", 0), 0u) << location;

  auto counter = cons.count ("out");
  cons.play ();
  EXPECT_TRUE (cons.wait_for ([&] { return counter->frames >= kFrames ||
                                       !cons.errors ().empty (); }, kTimeoutMs))
      << "frames: " << counter->frames;
  EXPECT_GE (counter->frames, kFrames) << cons.all_errors ();
  EXPECT_NE (counter->caps_string ().find ("width=(int)320"), std::string::npos)
      << counter->caps_string ();

  // Trickle: a candidate for the session's media, then a malformed fragment.
  HttpReply r = http ("PATCH", location, "application/trickle-ice-sdpfrag",
      "a=mid:0\r\na=candidate:1 1 UDP 2130706431 127.0.0.1 9 typ host\r\n");
  EXPECT_EQ (r.status, 204u) << r.body;
  r = http ("PATCH", location, "application/trickle-ice-sdpfrag",
      "a=mid:nope\r\na=candidate:1 1 UDP 2130706431 127.0.0.1 9 typ host\r\n");
  EXPECT_EQ (r.status, 400u) << r.body;
  r = http ("PATCH", location, "application/sdp", "a=end-of-candidates\r\n");
  EXPECT_EQ (r.status, 415u) << r.body;

  // The publisher DELETEs its session when its stdin closes.
  publisher.close_stdin ();
  EXPECT_TRUE (cons.wait_for ([&] { return publisher.exited (); }, kTimeoutMs));
  EXPECT_TRUE (publisher.said ("STOPPED")) << publisher.output ();
  r = http ("DELETE", location);
  EXPECT_EQ (r.status, 404u) << "already deleted: " << r.body;
  // The stream has left the hub: its viewer is told the stream ended, and a
  // WHEP player finds nothing.
  EXPECT_TRUE (cons.wait_for ([&] { return cons.got_eos () || !cons.errors ().empty (); },
      kTimeoutMs));
  r = http ("POST", base + "/whep/ai", "application/sdp", static_offer ("recvonly"));
  EXPECT_EQ (r.status, 404u) << r.body;
  EXPECT_TRUE (server->alive ());
}

// A stream aiortc publishes over WHIP, watched with a plain gst-launch line:
// the viewer ends (exit 0) once its sink has had enough.
TEST_F (WhipServer, ViewerOfAnAiortcStreamEndsWhenItsSinkHasEnough)
{
  start_server ();
  AiortcPeer publisher ({ "publish", base + "/whip/ai", "--seconds", "60" });
  ASSERT_TRUE (publisher.ok ());
  ASSERT_TRUE (rtcstream::test::wait_until ([&] {
    return !publisher.location ().empty () || publisher.exited ();
  }, kTimeoutMs)) << publisher.output ();
  ASSERT_FALSE (publisher.location ().empty ()) << publisher.output ();
  LaunchProcess viewer ("gst-launch-1.0 rtcstreamsrc uri=" + server->uri ("ai") +
      " ! videoconvert ! fakesink num-buffers=90");
  ASSERT_TRUE (viewer.expect_exit (30000));
  EXPECT_EQ (viewer.exit_code (), 0) << viewer.output ();
  EXPECT_TRUE (viewer.printed ("Got EOS from element \"pipeline0\"")) << viewer.output ();
  EXPECT_FALSE (publisher.exited ()) << "the publisher goes on: " << publisher.output ();
}

// A WHEP player that dies without DELETE (SIGKILL) goes silent; the server
// notices (GStreamer 1.22's ICE would not) and removes its session.
TEST_F (WhipServer, AVanishedPlayerIsRemoved)
{
  start_server ();
  auto prod = publisher ("cam");
  ASSERT_TRUE (prod->ok () && prod->errors ().empty ());
  AiortcPeer player ({ "play", base + "/whep/cam", "--frames", "100000", "--timeout", "60" });
  ASSERT_TRUE (player.ok ());
  ASSERT_TRUE (prod->wait_for ([&] { return player.said ("frames 10") || player.exited (); },
      kTimeoutMs)) << player.output ();
  const std::string location = player.location ("PLAYING ");
  ASSERT_FALSE (location.empty ()) << player.output ();
  const char *frag = "application/trickle-ice-sdpfrag";
  ASSERT_EQ (http ("PATCH", location, frag, "a=end-of-candidates\r\n").status, 204u);
  player.kill_hard ();
  // No RTCP from it for 20 s ends its session.
  guint status = 204;
  prod->wait_for ([&] {
    status = http ("PATCH", location, frag, "a=end-of-candidates\r\n").status;
    return status != 204;
  }, 3 * kTimeoutMs);
  EXPECT_EQ (status, 404u) << "the session of a vanished player must be removed";
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
  EXPECT_TRUE (server->alive ());
}

// Without the rtcstream plugin the endpoints answer 503 with a reason, and
// the server goes on serving.
TEST_F (WhipServer, MissingPluginIsA503)
{
  g_autofree char *dir = g_dir_make_tmp ("rtcstream-whip-XXXXXX", nullptr);
  ASSERT_NE (dir, nullptr);
  const std::string registry = std::string (dir) + "/registry.bin";
  const std::string old_path = g_getenv ("GST_PLUGIN_PATH") ? g_getenv ("GST_PLUGIN_PATH") : "";
  const std::string old_registry = g_getenv ("GST_REGISTRY") ? g_getenv ("GST_REGISTRY") : "";
  g_setenv ("GST_PLUGIN_PATH", dir, TRUE);
  g_setenv ("GST_REGISTRY", registry.c_str (), TRUE);
  start_server ();
  g_setenv ("GST_PLUGIN_PATH", old_path.c_str (), TRUE);
  g_setenv ("GST_REGISTRY", old_registry.c_str (), TRUE);

  HttpReply r = http ("POST", base + "/whip/cam", "application/sdp", static_offer ("sendonly"));
  EXPECT_EQ (r.status, 503u) << r.body;
  EXPECT_NE (r.body.find ("rtcstreamsink"), std::string::npos) << r.body;
  r = http ("OPTIONS", base + "/whep/cam");
  EXPECT_EQ (r.status, 204u);
  EXPECT_TRUE (server->alive ());
  server.reset ();
  g_unlink (registry.c_str ());
  g_rmdir (dir);
}

}  // namespace

