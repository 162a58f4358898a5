// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rtcstream's WHIP and WHEP clients against a peer no one here wrote: a small
// WHIP/WHEP endpoint on aiortc (tests/interop/whip_endpoint.py) on 127.0.0.1.
// Real pipelines, real HTTP, ICE, DTLS-SRTP and RTP; the endpoint decodes
// what rtcstreamsink publishes and sends a test pattern rtcstreamsrc decodes.
// Also the pure helpers of the client (Link headers, sdpfrag, candidates).
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "coturn.h"
#include "harness.h"
#include "rtcstream/uri.h"
#include "rtcstream/signallers/whip-signaller.h"
#include "rtcstream/signallers/whip-util.h"

using rtcstream::test::Coturn;
using rtcstream::test::die_with_parent;
using rtcstream::test::have;
using rtcstream::test::kVideo;
using rtcstream::test::free_port;
using rtcstream::test::Pipeline;
using rtcstream::test::pair_types;
namespace whip = rtcstream::whip;

namespace {

constexpr int kTimeoutMs = 20000;

// The aiortc endpoint as a child process; its JSON-line reports are
// collected by a reader thread.
class Endpoint {
public:
  explicit Endpoint (const std::vector<std::string> &extra = {})
  {
    std::vector<const char *> argv = {"/usr/bin/python3", WHIP_ENDPOINT_PY};
    for (const std::string &a : extra)
      argv.push_back (a.c_str ());
    argv.push_back (nullptr);
    g_autoptr (GError) err = nullptr;
    gint in_fd = -1, out_fd = -1;
    if (!g_spawn_async_with_pipes (nullptr, const_cast<char **> (argv.data ()), nullptr,
            G_SPAWN_DO_NOT_REAP_CHILD, die_with_parent, nullptr, &pid_, &in_fd, &out_fd, nullptr,
            &err)) {
      ADD_FAILURE () << "cannot start the endpoint: " << err->message;
      return;
    }
    stdin_ = in_fd;
    reader_ = std::thread ([this, out_fd] { read_lines (out_fd); });
    // Bounded wait for the port.
    for (int i = 0; i < 200 && port () == 0 && !eof (); i++)
      g_usleep (50 * 1000);
  }

  ~Endpoint ()
  {
    if (stdin_ >= 0)
      close (stdin_);  // the endpoint ends when its stdin closes
    if (pid_ > 0) {
      int status = 0;
      bool done = false;
      for (int i = 0; i < 100 && !done; i++) {
        done = waitpid (pid_, &status, WNOHANG) == pid_;
        if (!done)
          g_usleep (50 * 1000);
      }
      if (!done) {
        kill (pid_, SIGKILL);
        waitpid (pid_, &status, 0);
      }
      g_spawn_close_pid (pid_);
    }
    if (reader_.joinable ())
      reader_.join ();
  }

  unsigned port () const
  {
    for (const nlohmann::json &e : events ())
      if (e.value ("event", "") == "listening")
        return e.value ("port", 0u);
    return 0;
  }

  std::string url (const std::string &path) const
  {
    return "http://127.0.0.1:" + std::to_string (port ()) + path;
  }

  std::vector<nlohmann::json> events () const
  {
    std::lock_guard<std::mutex> lk (lock_);
    return events_;
  }

  std::vector<nlohmann::json> events_named (const std::string &name) const
  {
    std::vector<nlohmann::json> out;
    for (const nlohmann::json &e : events ())
      if (e.value ("event", "") == name)
        out.push_back (e);
    return out;
  }

  bool has (const std::string &name) const { return !events_named (name).empty (); }

  // Highest frame count reported (decoded by the endpoint, or sent by it).
  int frames (const char *event = "frames") const
  {
    int n = 0;
    for (const nlohmann::json &e : events_named (event))
      n = std::max (n, e.value ("count", 0));
    return n;
  }

  bool eof () const
  {
    std::lock_guard<std::mutex> lk (lock_);
    return eof_;
  }

private:
  void read_lines (int fd)
  {
    std::string pending;
    char buf[4096];
    for (;;) {
      ssize_t n = read (fd, buf, sizeof buf);
      if (n <= 0)
        break;
      pending.append (buf, (size_t) n);
      std::size_t nl;
      while ((nl = pending.find ('\n')) != std::string::npos) {
        nlohmann::json j = nlohmann::json::parse (pending.substr (0, nl), nullptr, false);
        pending.erase (0, nl + 1);
        if (j.is_discarded () || !j.is_object ())
          continue;
        std::lock_guard<std::mutex> lk (lock_);
        events_.push_back (std::move (j));
      }
    }
    close (fd);
    std::lock_guard<std::mutex> lk (lock_);
    eof_ = true;
  }

  GPid pid_ = 0;
  int stdin_ = -1;
  std::thread reader_;
  mutable std::mutex lock_;
  std::vector<nlohmann::json> events_;
  bool eof_ = false;
};

class WhipClient : public ::testing::Test {
protected:
  void SetUp () override
  {
    ASSERT_TRUE (have ("rtcstreamsink") && have ("rtcstreamsrc"))
        << "the rtcstream plugin is not on GST_PLUGIN_PATH (run through meson test)";
    for (const char *f : {"webrtcbin", "nicesrc", "dtlssrtpenc", "vp8enc", "vp8dec"})
      if (!have (f))
        GTEST_SKIP () << f << " is not installed";
    gint status = 1;
    const char *check[] = {"/usr/bin/python3", "-c", "import aiortc, numpy", nullptr};
    if (!g_spawn_sync (nullptr, const_cast<char **> (check), nullptr,
            G_SPAWN_STDERR_TO_DEV_NULL, nullptr, nullptr, nullptr, nullptr, &status, nullptr) ||
        !g_spawn_check_wait_status (status, nullptr))
      GTEST_SKIP () << "python3-aiortc is not installed";
  }

  std::unique_ptr<Endpoint> endpoint (const std::vector<std::string> &args = {})
  {
    auto e = std::make_unique<Endpoint> (args);
    EXPECT_NE (e->port (), 0u) << "the aiortc endpoint did not start";
    return e;
  }

  static RtcstreamSignaller *whip_signaller (const std::string &url, const char *ice_mode)
  {
    auto *sig = RTCSTREAM_SIGNALLER (g_object_new (RTCSTREAM_TYPE_WHIP_SIGNALLER, "url",
        url.c_str (), nullptr));
    gst_util_set_object_arg (G_OBJECT (sig), "ice-mode", ice_mode);
    return sig;
  }
};

// --- pure helpers ------------------------------------------------------------

GstSDPMessage *
parse_sdp (const char *text)
{
  GstSDPMessage *sdp = nullptr;
  gst_sdp_message_new_from_text (text, &sdp);
  return sdp;
}

const char *const kOffer =
    "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE video0 audio1\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:uf\r\na=ice-pwd:pw\r\na=mid:video0\r\na=rtpmap:96 VP8/90000\r\n"
    "m=audio 0 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:uf\r\na=ice-pwd:pw\r\na=bundle-only\r\na=mid:audio1\r\n"
    "a=rtpmap:111 OPUS/48000/2\r\n";

using rtcstream::IceServer;
using rtcstream::parse_ice_server_links;

TEST (WhipUtil, IceServersFromLinkHeaders)
{
  // Two links in one value (as libsoup joins repeated headers), a quoted
  // comma, an escaped quote, and a link of another rel that must be skipped.
  std::vector<std::string> values = {
      "<turn:turn.example.net:3478?transport=udp>; rel=\"ice-server\"; username=\"u@x\"; "
      "credential=\"p,a\\\"ss\"; credential-type=\"password\", "
      "<https://example.net/doc>; rel=\"help\", "
      "<stun:stun.example.net:3478>; rel=ice-server"};
  std::vector<IceServer> servers = parse_ice_server_links (values);
  ASSERT_EQ (servers.size (), 2u);
  EXPECT_EQ (servers[0].urls, std::vector<std::string> {"turn:turn.example.net:3478?transport=udp"});
  EXPECT_EQ (servers[0].username, "u@x");
  EXPECT_EQ (servers[0].credential, "p,a\"ss");
  EXPECT_TRUE (servers[0].is_turn ());
  EXPECT_EQ (servers[0].webrtcbin_uris (), std::vector<std::string> {
      "turn://u%40x:p%2Ca%22ss@turn.example.net:3478?transport=udp"});
  EXPECT_EQ (servers[1].webrtcbin_uris (),
      std::vector<std::string> {"stun://stun.example.net:3478"});
  EXPECT_FALSE (servers[1].is_turn ());
  EXPECT_TRUE (parse_ice_server_links ({"garbage", ""}).empty ());
  IceServer other;
  other.urls = {"mailto:x"};
  EXPECT_TRUE (other.webrtcbin_uris ().empty ());
  // And back, for URIs an application's signaller hands out.
  IceServer back;
  ASSERT_TRUE (IceServer::from_webrtcbin_uri (servers[0].webrtcbin_uris ()[0], back));
  EXPECT_EQ (back, servers[0]);
  ASSERT_TRUE (IceServer::from_webrtcbin_uri ("stun://stun.example.net:3478", back));
  EXPECT_EQ (back, servers[1]);
  EXPECT_FALSE (IceServer::from_webrtcbin_uri ("mailto:x", back));
}

TEST (WhipUtil, SdpfragAndCandidates)
{
  GstSDPMessage *offer = parse_sdp (kOffer);
  ASSERT_NE (offer, nullptr);
  std::vector<whip::Candidate> cands = {
      {0, "candidate:1 1 UDP 2015363327 192.0.2.2 40000 typ host"},
      {0, "candidate:2 1 TCP 1015021823 192.0.2.2 9 typ host tcptype active"}};
  std::string frag = whip::make_sdpfrag (offer, cands, true);
  EXPECT_EQ (frag,
      "a=ice-ufrag:uf\r\na=ice-pwd:pw\r\n"
      "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:video0\r\n"
      "a=candidate:1 1 UDP 2015363327 192.0.2.2 40000 typ host\r\n"
      "a=candidate:2 1 TCP 1015021823 192.0.2.2 9 typ host tcptype active\r\n"
      "a=end-of-candidates\r\n");
  // The end alone still names a media.
  EXPECT_NE (whip::make_sdpfrag (offer, {}, true).find ("a=mid:video0\r\na=end-of-candidates"),
      std::string::npos);

  std::vector<whip::Candidate> remote;
  std::string error;
  ASSERT_TRUE (whip::parse_sdpfrag (
      "a=ice-ufrag:x\r\na=ice-pwd:y\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:audio1\r\n"
      "a=candidate:9 1 UDP 1 192.0.2.9 5000 typ host\r\n", whip::sdpfrag_media (offer), remote,
      error)) << error;
  ASSERT_EQ (remote.size (), 1u);
  EXPECT_EQ (remote[0].first, 1u);
  EXPECT_EQ (remote[0].second, "candidate:9 1 UDP 1 192.0.2.9 5000 typ host");

  // Full ICE: candidates go into their media, the end marker too.
  whip::add_candidates (offer, cands, true);
  g_autofree char *text = gst_sdp_message_as_text (offer);
  std::string s = text;
  EXPECT_NE (s.find ("a=candidate:1 1 UDP 2015363327 192.0.2.2 40000 typ host\r\n"),
      std::string::npos);
  EXPECT_LT (s.find ("a=candidate:1"), s.find ("m=audio"));
  EXPECT_LT (s.find ("a=end-of-candidates"), s.find ("m=audio"));
  gst_sdp_message_free (offer);
}

TEST (WhipUtil, LocationIsResolvedAgainstTheEndpoint)
{
  EXPECT_EQ (whip::resolve_location ("http://h:1/whip/cam", "/resource/1"),
      "http://h:1/resource/1");
  EXPECT_EQ (whip::resolve_location ("http://h:1/whip/cam", "res/2"), "http://h:1/whip/res/2");
  EXPECT_EQ (whip::resolve_location ("http://h:1/whip/cam", "https://o:2/r"), "https://o:2/r");
  EXPECT_EQ (whip::resolve_location ("http://h:1/whip/cam", ""), "");
}

TEST (WhipUtil, WhipAndWhepUris)
{
  rtcstream::StreamUri u;
  std::string error;
  ASSERT_TRUE (rtcstream::parse_stream_uri ("whip+https://media.example.net/live/whip/cam%201?x=1",
      u, error)) << error;
  EXPECT_EQ (u.http_protocol, "whip");
  EXPECT_EQ (u.http_url, "https://media.example.net/live/whip/cam%201?x=1");
  EXPECT_EQ (u.stream, "cam 1");
  EXPECT_EQ (u.port, 443u);
  EXPECT_TRUE (u.ws_url.empty ());
  ASSERT_TRUE (rtcstream::parse_stream_uri ("whep+http://127.0.0.1:8443/whep/cam", u, error));
  EXPECT_EQ (u.http_protocol, "whep");
  EXPECT_EQ (u.http_url, "http://127.0.0.1:8443/whep/cam");
  EXPECT_FALSE (rtcstream::parse_stream_uri ("whip+ftp://h/x", u, error));
  EXPECT_NE (error.find ("whip+http://HOST:PORT/PATH"), std::string::npos) << error;
  EXPECT_FALSE (rtcstream::parse_stream_uri ("whep+http:///nohost", u, error));
  ASSERT_TRUE (rtcstream::parse_stream_uri ("rtcstream://h:1/cam", u, error));
  EXPECT_TRUE (u.http_protocol.empty ());
}

// --- against aiortc ------------------------------------------------------------

TEST_F (WhipClient, SinkPublishesToAiortcAndDeletesOnStop)
{
  auto ep = endpoint ();
  ASSERT_NE (ep->port (), 0u);
  Pipeline p (kVideo + " ! rtcstreamsink name=sink uri=whip+" + ep->url ("/whip/cam"));
  ASSERT_TRUE (p.ok ()) << p.parse_error ();
  p.play ();
  EXPECT_TRUE (p.wait_for ([&] { return ep->frames () >= 60 || !p.errors ().empty (); },
      kTimeoutMs)) << "aiortc decoded " << ep->frames () << " frames";
  EXPECT_TRUE (p.errors ().empty ()) << p.all_errors ();
  EXPECT_GE (ep->frames (), 60);
  auto frames = ep->events_named ("frames");
  ASSERT_FALSE (frames.empty ());
  EXPECT_EQ (frames.back ().value ("width", 0), 320);
  EXPECT_EQ (frames.back ().value ("height", 0), 240);
  EXPECT_TRUE (ep->has ("patch")) << "no candidate was trickled";
  EXPECT_TRUE (ep->events_named ("delete").empty ());
  p.stop ();
  // stop() waits for the DELETE (a few seconds at most); the report follows.
  EXPECT_TRUE (p.wait_for ([&] { return ep->has ("delete"); }, 5000))
      << "no DELETE of the session resource on stop";
}

TEST_F (WhipClient, SrcReceivesAiortcTestPattern)
{
  auto ep = endpoint ();
  ASSERT_NE (ep->port (), 0u);
  Pipeline p ("rtcstreamsrc name=src uri=whep+" + ep->url ("/whep/cam") +
      " ! videoconvert ! fakesink name=out");
  ASSERT_TRUE (p.ok ()) << p.parse_error ();
  auto counter = p.count ("out");
  p.play ();
  EXPECT_TRUE (p.wait_for ([&] { return counter->frames >= 60 || !p.errors ().empty (); },
      kTimeoutMs)) << "decoded " << counter->frames << " frames";
  EXPECT_TRUE (p.errors ().empty ()) << p.all_errors ();
  EXPECT_GE (counter->frames, 60);
  EXPECT_NE (counter->caps_string ().find ("width=(int)320"), std::string::npos)
      << counter->caps_string ();
  // EOS (gst-launch -e) leaves the session: DELETE, then EOS downstream.
  gst_element_send_event (p.get (), gst_event_new_eos ());
  EXPECT_TRUE (p.wait_for ([&] { return ep->has ("delete") && p.got_eos (); }, 5000))
      << "no DELETE of the session resource on EOS";
  p.stop ();
  EXPECT_EQ (ep->events_named ("delete").size (), 1u);
}

TEST_F (WhipClient, WrongBearerTokenIsA401Error)
{
  auto ep = endpoint ({"--token", "s3cret"});
  ASSERT_NE (ep->port (), 0u);
  Pipeline p (kVideo + " ! rtcstreamsink uri=whip+" + ep->url ("/whip/cam") +
      " auth-token=wrong");
  ASSERT_TRUE (p.ok ()) << p.parse_error ();
  p.play ();
  EXPECT_TRUE (p.wait_for ([&] { return !p.errors ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (p.has_error_containing ("401")) << p.all_errors ();
  EXPECT_TRUE (p.has_error_containing ("auth-token")) << p.all_errors ();
  // The endpoint logs its request after its reply, which may reach us first.
  p.wait_for ([&] { return !ep->events_named ("post").empty (); }, 5000);
  auto posts = ep->events_named ("post");
  ASSERT_EQ (posts.size (), 1u);
  EXPECT_FALSE (posts[0].value ("authorized", true));
  p.stop ();

  // The right token is accepted and media flows.
  Pipeline ok ("rtcstreamsrc uri=whep+" + ep->url ("/whep/cam") +
      " auth-token=s3cret ! videoconvert ! fakesink name=out");
  auto counter = ok.count ("out");
  ok.play ();
  EXPECT_TRUE (ok.wait_for ([&] { return counter->frames >= 10 || !ok.errors ().empty (); },
      kTimeoutMs));
  EXPECT_TRUE (ok.errors ().empty ()) << ok.all_errors ();
  EXPECT_TRUE (ep->events_named ("post").back ().value ("authorized", false));
}

TEST_F (WhipClient, UnreachableEndpointIsAClearError)
{
  // A port nothing listens on: bound, then closed.
  g_autoptr (GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, nullptr);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  ASSERT_TRUE (g_socket_bind (s, any, FALSE, nullptr));
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (s, nullptr);
  guint port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (s, nullptr);

  Pipeline p ("rtcstreamsrc uri=whep+http://127.0.0.1:" + std::to_string (port) +
      "/whep/cam ! fakesink");
  p.play ();
  EXPECT_TRUE (p.wait_for ([&] { return !p.errors ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (p.has_error_containing ("Could not reach WHEP endpoint")) << p.all_errors ();
}

TEST_F (WhipClient, NotFoundNamesStatusAndReason)
{
  auto ep = endpoint ();
  ASSERT_NE (ep->port (), 0u);
  Pipeline p ("rtcstreamsrc uri=whep+" + ep->url ("/elsewhere") + " ! fakesink");
  p.play ();
  EXPECT_TRUE (p.wait_for ([&] { return !p.errors ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (p.has_error_containing ("answered 404 Not Found (\"no such resource\")"))
      << p.all_errors ();
}

TEST_F (WhipClient, ReplyThatIsNotAnSdpAnswerIsAClearError)
{
  auto ep = endpoint ();
  ASSERT_NE (ep->port (), 0u);
  const std::pair<const char *, const char *> cases[] = {
      {"/broken/content-type", "content type 'text/html' instead of application/sdp"},
      {"/broken/sdp", "not a valid SDP description"}};
  for (const auto &c : cases) {
    Pipeline p ("rtcstreamsrc uri=whep+" + ep->url (c.first) + " ! fakesink");
    p.play ();
    EXPECT_TRUE (p.wait_for ([&] { return !p.errors ().empty (); }, kTimeoutMs));
    EXPECT_TRUE (p.has_error_containing (c.second)) << p.all_errors ();
  }
}

// whep+https:// with the endpoint's self-signed certificate: trusted through
// tls-ca-file, refused without it.
TEST_F (WhipClient, HttpsWithTlsCaFile)
{
  g_autofree gchar *dir = g_dir_make_tmp ("rtcstream-whip-tls-XXXXXX", nullptr);
  ASSERT_NE (dir, nullptr);
  std::string cert, key;
  ASSERT_TRUE (rtcstream::test::make_test_certificate (dir, cert, key))
      << "openssl could not make a test certificate";
  {
    auto ep = endpoint ({"--tls-cert", cert, "--tls-key", key});
    ASSERT_NE (ep->port (), 0u);
    std::string url = "https://127.0.0.1:" + std::to_string (ep->port ()) + "/whep/cam";
    Pipeline untrusting ("rtcstreamsrc uri=whep+" + url + " ! fakesink");
    untrusting.play ();
    EXPECT_TRUE (untrusting.wait_for ([&] { return !untrusting.errors ().empty (); },
        kTimeoutMs));
    EXPECT_TRUE (untrusting.has_error_containing ("set tls-ca-file")) << untrusting.all_errors ();
    untrusting.stop ();

    Pipeline p ("rtcstreamsrc uri=whep+" + url + " tls-ca-file=" + cert +
        " ! videoconvert ! fakesink name=out");
    auto counter = p.count ("out");
    p.play ();
    EXPECT_TRUE (p.wait_for ([&] { return counter->frames >= 20 || !p.errors ().empty (); },
        kTimeoutMs));
    EXPECT_TRUE (p.errors ().empty ()) << p.all_errors ();
    p.stop ();
    EXPECT_TRUE (p.wait_for ([&] { return ep->has ("delete"); }, 5000));
  }
  g_unlink (cert.c_str ());
  g_unlink (key.c_str ());
  g_rmdir (dir);
}

TEST_F (WhipClient, WrongSchemeForTheElementFailsAtStart)
{
  Pipeline p (kVideo + " ! rtcstreamsink uri=whep+http://127.0.0.1:9/whep/cam");
  ASSERT_TRUE (p.ok ()) << p.parse_error ();
  EXPECT_EQ (p.play (), GST_STATE_CHANGE_FAILURE);
  p.pump (100);
  EXPECT_TRUE (p.has_error_containing ("whip+http")) << p.all_errors ();
}

// Full ICE mode against an endpoint that refuses PATCH: every candidate is
// in the offer, nothing is trickled; the signaller object is the
// application's, and the endpoint's Link headers show in ice-servers.
TEST_F (WhipClient, FullIceModeAndAnnouncedIceServers)
{
  auto ep = endpoint ({"--no-trickle", "--ice-server",
      "turn:turn.example.net:3478?transport=udp;user;pa ss", "--ice-server",
      "stun:stun.example.net:3478"});
  ASSERT_NE (ep->port (), 0u);
  Pipeline p (kVideo + " ! rtcstreamsink name=sink");
  ASSERT_TRUE (p.ok ()) << p.parse_error ();
  RtcstreamSignaller *sig = whip_signaller (ep->url ("/whip/cam"), "full");
  g_object_set (p.element ("sink"), "signaller", sig, nullptr);
  p.play ();
  EXPECT_TRUE (p.wait_for ([&] { return ep->frames () >= 30 || !p.errors ().empty (); },
      kTimeoutMs)) << "aiortc decoded " << ep->frames () << " frames";
  EXPECT_TRUE (p.errors ().empty ()) << p.all_errors ();
  auto posts = ep->events_named ("post");
  ASSERT_EQ (posts.size (), 1u);
  EXPECT_GT (posts[0].value ("offer_candidates", 0), 0);
  EXPECT_FALSE (ep->has ("patch") || ep->has ("patch-refused"));

  g_auto (GStrv) servers = nullptr;
  g_object_get (sig, "ice-servers", &servers, nullptr);
  ASSERT_NE (servers, nullptr);
  ASSERT_EQ (g_strv_length (servers), 2u);
  EXPECT_STREQ (servers[0], "turn://user:pa%20ss@turn.example.net:3478?transport=udp");
  EXPECT_STREQ (servers[1], "stun://stun.example.net:3478");
  g_autofree char *resource = nullptr;
  g_object_get (sig, "resource-url", &resource, nullptr);
  EXPECT_TRUE (g_str_has_prefix (resource, ep->url ("/resource/").c_str ())) << resource;
  p.stop ();
  g_object_unref (sig);
}

// The TURN server of the endpoint's Link header is the only one the sink
// knows, and ice-transport-policy=relay allows no other path: frames arriving
// and a selected pair whose local candidate is relayed prove that the session
// used it (in trickle mode the local description waits for the answer).
TEST_F (WhipClient, TurnServerAnnouncedInLinkHeaderCarriesRelayOnlySession)
{
  if (!g_file_test (rtcstream::test::kTurnServer, G_FILE_TEST_IS_EXECUTABLE))
    GTEST_SKIP () << rtcstream::test::kTurnServer << " is absent (Debian package coturn)";
  Coturn turn;
  ASSERT_TRUE (turn.ok ()) << "turnserver did not start:\n" << turn.log ();
  // No ?transport= (UDP and TCP both), as in the turn-servers tests: here an
  // allocation over UDP alone, from libnice's host address to 127.0.0.1, got
  // no answer.
  auto ep = endpoint ({"--ice-server", "turn:127.0.0.1:" + std::to_string (turn.port ()) +
      ";" + Coturn::kUser + ";" + Coturn::kPassword});
  ASSERT_NE (ep->port (), 0u);
  Pipeline p (kVideo + " ! rtcstreamsink name=sink ice-transport-policy=relay uri=whip+" +
      ep->url ("/whip/cam"));
  ASSERT_TRUE (p.ok ()) << p.parse_error ();
  p.play ();
  EXPECT_TRUE (p.wait_for ([&] { return ep->frames () >= 30 || !p.errors ().empty (); },
      kTimeoutMs)) << "aiortc decoded " << ep->frames () << " frames";
  EXPECT_TRUE (p.errors ().empty ()) << p.all_errors ();
  EXPECT_TRUE (p.wait_for ([&] {
    return pair_types (p.element ("sink")).rfind ("relay/", 0) == 0;
  }, kTimeoutMs)) << "selected pair " << pair_types (p.element ("sink"));
  EXPECT_NE (turn.log ().find ("ALLOCATE processed, success"), std::string::npos)
      << turn.log ();
  p.stop ();
}

// Without turn-servers and with an endpoint that announces none, relay-only
// has no path: the element says so instead of waiting for ICE to time out.
TEST_F (WhipClient, RelayOnlyWithoutAnyTurnServerIsAnError)
{
  auto ep = endpoint ();
  ASSERT_NE (ep->port (), 0u);
  Pipeline p (kVideo + " ! rtcstreamsink ice-transport-policy=relay uri=whip+" +
      ep->url ("/whip/cam"));
  ASSERT_TRUE (p.ok ()) << p.parse_error ();
  p.play ();
  EXPECT_TRUE (p.wait_for ([&] { return !p.errors ().empty () || !p.warnings ().empty (); },
      kTimeoutMs));
  EXPECT_TRUE (p.has_error_containing ("neither turn-servers nor the signalling server") ||
      p.has_warning_containing ("neither turn-servers nor the signalling server"))
      << p.all_errors ();
}

// rtcstream-signalling hands out a TURN server with per-session credentials
// (--turn-secret, coturn's use-auth-secret) in the Link headers of its WHIP
// and WHEP answers: a sink and a src, both relay-only and configured with no
// TURN server at all, stream through it. The server's side is relay-only too
// (--ice-transport-policy relay): with host candidates it connected in about
// 3 of 4 runs here. libnice binds each host UDP socket to its interface
// (IP_UNICAST_IF), so nothing it sends from 192.0.2.x reaches coturn's relay
// on 127.0.0.1, and the only path is relay to relay. When the client's first
// check, relayed to the server's host address, arrived before the PATCH with
// the client's relay candidate, libnice 0.1.21 kept that candidate as the
// peer-reflexive one it had learnt and never paired it with the server's own
// relay, so that path was never tried. Relay-only, no check reaches the
// server before it has the candidate (coturn lets none through its relay
// until the server asks for a permission).
TEST_F (WhipClient, ServerAnnouncedTurnWithSharedSecretCarriesWhipAndWhep)
{
  if (!g_file_test (rtcstream::test::kTurnServer, G_FILE_TEST_IS_EXECUTABLE))
    GTEST_SKIP () << rtcstream::test::kTurnServer << " is absent (Debian package coturn)";
  Coturn turn ("north-wind");
  ASSERT_TRUE (turn.ok ()) << "turnserver did not start:\n" << turn.log ();
  // TURN over TCP: here UDP from libnice's host address to 127.0.0.1 gets
  // nowhere (see above), and each side would wait out that allocation.
  rtcstream::test::ServerProcess server ({"--ice-server",
      "turn:127.0.0.1:" + std::to_string (turn.port ()) + "?transport=tcp",
      "--turn-secret", "north-wind", "--ice-transport-policy", "relay"});
  ASSERT_TRUE (server.ok ()) << "rtcstream-signalling did not start";
  const std::string base = "http://127.0.0.1:" + std::to_string (server.port ());
  Pipeline prod (kVideo + " ! rtcstreamsink name=sink ice-transport-policy=relay uri=whip+" +
      base + "/whip/cam");
  ASSERT_TRUE (prod.ok ()) << prod.parse_error ();
  prod.play ();
  ASSERT_TRUE (prod.wait_for ([&] {
    return pair_types (prod.element ("sink")).rfind ("relay/", 0) == 0 ||
        !prod.errors ().empty ();
  }, kTimeoutMs)) << prod.all_errors () << "\n" << turn.log ();
  Pipeline cons ("rtcstreamsrc name=src ice-transport-policy=relay uri=whep+" + base +
      "/whep/cam ! videoconvert ! fakesink name=out");
  ASSERT_TRUE (cons.ok ()) << cons.parse_error ();
  auto counter = cons.count ("out");
  cons.play ();
  EXPECT_TRUE (cons.wait_for ([&] { return counter->frames >= 30 || !cons.errors ().empty (); },
      kTimeoutMs));
  EXPECT_GE (counter->frames, 30) << cons.all_errors ()
      << "\n" << turn.log ();
  EXPECT_TRUE (cons.wait_for ([&] {
    return pair_types (cons.element ("src")).rfind ("relay/", 0) == 0;
  }, kTimeoutMs)) << "selected pair " << pair_types (cons.element ("src"));
  // coturn checked the time-limited credentials it was given.
  EXPECT_NE (turn.log ().find ("ALLOCATE processed, success"), std::string::npos);
  cons.stop ();
  prod.stop ();
}

// Trickle against an endpoint that refuses PATCH (405): trickling stops
// after the first refusal and the session still connects.
TEST_F (WhipClient, TrickleStopsWhenRefused)
{
  auto ep = endpoint ({"--no-trickle"});
  ASSERT_NE (ep->port (), 0u);
  Pipeline p (kVideo + " ! rtcstreamsink uri=whip+" + ep->url ("/whip/cam"));
  p.play ();
  EXPECT_TRUE (p.wait_for ([&] { return ep->frames () >= 30 || !p.errors ().empty (); },
      kTimeoutMs)) << "aiortc decoded " << ep->frames () << " frames";
  EXPECT_TRUE (p.errors ().empty ()) << p.all_errors ();
  EXPECT_EQ (ep->events_named ("patch-refused").size (), 1u);
}

// Both clients through our own server's WHIP and WHEP endpoints: the sink
// publishes over WHIP, the src watches over WHEP, both resources deleted.
TEST_F (WhipClient, RoundTripThroughRtcstreamSignalling)
{
  rtcstream::test::ServerProcess server;
  ASSERT_TRUE (server.ok ()) << "rtcstream-signalling did not start";
  const std::string base = "http://127.0.0.1:" + std::to_string (server.port ());
  Pipeline prod (kVideo + " ! rtcstreamsink name=sink uri=whip+" + base + "/whip/cam");
  ASSERT_TRUE (prod.ok ()) << prod.parse_error ();
  prod.play ();
  // The server answers the WHIP POST once the stream is listed; the sink
  // knows its codec once that answer is applied. From then on WHEP finds it,
  // at the first attempt.
  ASSERT_TRUE (prod.wait_for ([&] {
    auto codecs = rtcstream::test::consumer_codecs (prod.element ("sink"));
    return (codecs.size () == 1 && !codecs[0].empty ()) || !prod.errors ().empty ();
  }, kTimeoutMs)) << prod.all_errors ();
  Pipeline cons ("rtcstreamsrc uri=whep+" + base + "/whep/cam ! videoconvert ! fakesink name=out");
  auto counter = cons.count ("out");
  cons.play ();
  EXPECT_TRUE (cons.wait_for ([&] { return counter->frames >= 60 || !cons.errors ().empty (); },
      kTimeoutMs)) << "decoded " << counter->frames << " frames; " << cons.all_errors ();
  EXPECT_TRUE (cons.errors ().empty ()) << cons.all_errors ();
  EXPECT_TRUE (prod.errors ().empty ()) << prod.all_errors ();
}

}  // namespace

