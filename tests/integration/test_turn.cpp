// SPDX-License-Identifier: LGPL-2.1-or-later
//
// TURN through a real coturn (/usr/bin/turnserver) that each test starts on
// 127.0.0.1 with a configuration written into a temporary directory (its
// log, pid file and user database stay there too). Producer and consumer
// force every packet through the relay with ice-transport-policy=relay, so
// frames arriving prove the relay path; the selected candidate pair in the
// elements' stats says "relay" as well. The failure cases check that a wrong
// password, a dead or unreachable TURN server and a bad turn-servers entry
// each give an error that names the problem.
#include <gst/gst.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/wait.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "harness.h"

using rtcstream::test::die_with_parent;
using rtcstream::test::have;
using rtcstream::test::kVideo;
using rtcstream::test::free_port;
using rtcstream::test::Pipeline;
using rtcstream::test::ServerProcess;

namespace {

constexpr int kTimeoutMs = 20000;
constexpr const char *kTurnServer = "/usr/bin/turnserver";
constexpr const char *kUser = "rtcstream";
// A password with characters that must be %-escaped in the URI.
constexpr const char *kPassword = "p@ss:w/rd%1";
constexpr const char *kPasswordEscaped = "p%40ss%3Aw%2Frd%251";


bool
tcp_port_open (unsigned port)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_socket_client_set_timeout (client, 1);
  g_autoptr (GSocketConnection) conn =
      g_socket_client_connect_to_host (client, "127.0.0.1", (guint16) port, nullptr, nullptr);
  return conn != nullptr;
}

// coturn on 127.0.0.1 only: listener and relay addresses are loopback, no
// TLS/DTLS listeners, no CLI (it would listen on 5766), no RFC 5780 second
// port. Everything it writes lives in a temporary directory.
class Coturn {
public:
  Coturn ()
  {
    dir_ = g_dir_make_tmp ("rtcstream-turn-XXXXXX", nullptr);
    port_ = free_port ();
    if (!dir_ || port_ == 0)
      return;
    std::string conf = path ("turnserver.conf");
    std::ofstream f (conf);
    f << "listening-ip=127.0.0.1\n"
      << "relay-ip=127.0.0.1\n"
      << "listening-port=" << port_ << "\n"
      << "lt-cred-mech\n"
      << "user=" << kUser << ":" << kPassword << "\n"
      << "realm=rtcstream.test\n"
      << "no-tls\nno-dtls\nno-cli\nno-rfc5780\n"
      << "allow-loopback-peers\n"
      << "verbose\n"
      << "simple-log\n"
      << "log-file=" << path ("turnserver.log") << "\n"
      << "userdb=" << path ("turndb") << "\n"
      << "pidfile=" << path ("turnserver.pid") << "\n";
    f.close ();
    const char *argv[] = {kTurnServer, "-c", conf.c_str (), nullptr};
    g_autoptr (GError) err = nullptr;
    if (!g_spawn_async (dir_, const_cast<char **> (argv), nullptr,
            (GSpawnFlags) (G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
                G_SPAWN_STDERR_TO_DEV_NULL),
            die_with_parent, nullptr, &pid_, &err)) {
      g_printerr ("could not start %s: %s\n", kTurnServer, err->message);
      pid_ = 0;
      return;
    }
    // Ready once its TCP listener accepts, at most 10 s.
    for (int i = 0; i < 100 && alive (); i++) {
      if (tcp_port_open (port_)) {
        ready_ = true;
        break;
      }
      g_usleep (100000);
    }
  }

  ~Coturn ()
  {
    kill_now ();
    if (dir_) {
      // Its files: config, log, pid file, SQLite database and journal.
      if (GDir *d = g_dir_open (dir_, 0, nullptr)) {
        while (const char *name = g_dir_read_name (d))
          g_unlink (path (name).c_str ());
        g_dir_close (d);
      }
      g_rmdir (dir_);
      g_free (dir_);
    }
  }

  bool ok () const { return ready_; }
  unsigned port () const { return port_; }

  // turn://USER:PASSWORD@127.0.0.1:PORT with the password escaped.
  std::string uri (const std::string &escaped_password = kPasswordEscaped) const
  {
    return std::string ("turn://") + kUser + ":" + escaped_password + "@127.0.0.1:" +
        std::to_string (port_);
  }

  // How the elements name it in messages (no password).
  std::string display () const
  {
    return std::string ("turn://") + kUser + "@127.0.0.1:" + std::to_string (port_);
  }

  std::string log () const
  {
    std::ifstream f (path ("turnserver.log"));
    std::stringstream ss;
    ss << f.rdbuf ();
    return ss.str ();
  }

  void kill_now ()
  {
    if (pid_ <= 0)
      return;
    kill (pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100 && waitpid (pid_, &status, WNOHANG) == 0; i++)
      g_usleep (20000);
    if (waitpid (pid_, &status, WNOHANG) == 0) {
      kill (pid_, SIGKILL);
      waitpid (pid_, &status, 0);
    }
    g_spawn_close_pid (pid_);
    pid_ = 0;
  }

private:
  bool alive () const
  {
    int status = 0;
    return pid_ > 0 && waitpid (pid_, &status, WNOHANG) == 0;
  }
  std::string path (const char *name) const { return std::string (dir_) + "/" + name; }

  gchar *dir_ = nullptr;
  GPid pid_ = 0;
  unsigned port_ = 0;
  bool ready_ = false;
};

// ice-transport-policy=relay turn-servers=<"URI"> as gst-launch syntax.
std::string
relay_through (const std::string &turn_uri)
{
  return "ice-transport-policy=relay turn-servers=\"<\\\"" + turn_uri + "\\\">\"";
}

// The selected pair's candidate types as "local/remote", from the stats of
// an rtcstreamsrc, or of the first consumer of an rtcstreamsink.
std::string
pair_types (GstElement *element)
{
  GstStructure *s = nullptr;
  g_object_get (element, "stats", &s, nullptr);
  if (!s)
    return "";
  const GstStructure *from = s;
  for (gint i = 0; i < gst_structure_n_fields (s); i++) {
    const GValue *v = gst_structure_get_value (s, gst_structure_nth_field_name (s, i));
    if (GST_VALUE_HOLDS_STRUCTURE (v)) {
      from = gst_value_get_structure (v);
      break;
    }
  }
  const char *l = gst_structure_get_string (from, "local-candidate-type");
  const char *r = gst_structure_get_string (from, "remote-candidate-type");
  std::string out = std::string (l ? l : "") + "/" + (r ? r : "");
  gst_structure_free (s);
  return out;
}

class Turn : public ::testing::Test {
protected:
  void SetUp () override
  {
    ASSERT_TRUE (have ("rtcstreamsink") && have ("rtcstreamsrc"))
        << "the rtcstream plugin is not on GST_PLUGIN_PATH (run through meson test)";
    for (const char *f : {"webrtcbin", "nicesrc", "dtlssrtpenc", "vp8enc"})
      if (!have (f))
        GTEST_SKIP () << f << " is not installed";
    if (!g_file_test (kTurnServer, G_FILE_TEST_IS_EXECUTABLE))
      GTEST_SKIP () << kTurnServer << " is absent (Debian package coturn)";
    turn = std::make_unique<Coturn> ();
    ASSERT_TRUE (turn->ok ()) << "turnserver did not start:\n" << turn->log ();
    server = std::make_unique<ServerProcess> ();
    ASSERT_TRUE (server->ok ()) << "rtcstream-signalling did not start";
  }

  void TearDown () override
  {
    if (HasFailure () && turn)
      std::cerr << "--- turnserver log ---\n" << turn->log () << "\n";
  }

  std::unique_ptr<Pipeline> producer (const std::string &turn_uri, const char *stream = "cam")
  {
    auto p = std::make_unique<Pipeline> (kVideo + " ! rtcstreamsink name=sink uri=" +
        server->uri (stream) + " " + relay_through (turn_uri));
    EXPECT_TRUE (p->ok ()) << p->parse_error ();
    if (!p->ok ())
      return p;
    p->play ();
    EXPECT_TRUE (p->wait_registered (kTimeoutMs)) << p->all_errors ();
    return p;
  }

  std::unique_ptr<Pipeline> consumer (const std::string &ice, const char *stream = "cam")
  {
    auto p = std::make_unique<Pipeline> ("rtcstreamsrc name=src uri=" + server->uri (stream) +
        " " + ice + " ! fakesink name=v");
    EXPECT_TRUE (p->ok ()) << p->parse_error ();
    if (p->ok ())
      p->play ();
    return p;
  }

  std::unique_ptr<Coturn> turn;
  std::unique_ptr<ServerProcess> server;
};

TEST_F (Turn, RelayOnlySessionStreamsThroughTheRelay)
{
  auto prod = producer (turn->uri ());
  auto cons = consumer (relay_through (turn->uri ()));
  auto v = cons->count ("v");
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= 60 || !cons->errors ().empty (); },
      kTimeoutMs)) << "video " << v->frames;
  EXPECT_GE (v->frames, 60) << cons->all_errors ();
  EXPECT_NE (v->caps_string ().find ("video/x-raw"), std::string::npos) << v->caps_string ();

  // Both ends of the selected pair are relayed candidates (stats refresh
  // every second).
  GstElement *src = cons->element ("src");
  GstElement *sink = prod->element ("sink");
  EXPECT_TRUE (cons->wait_for ([&] {
    prod->pump (0);
    return pair_types (src) == "relay/relay" && pair_types (sink) == "relay/relay";
  }, kTimeoutMs)) << "consumer " << pair_types (src) << ", producer " << pair_types (sink);
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
  EXPECT_TRUE (prod->warnings ().empty ()) << prod->warnings ().front ();
  // coturn saw our user allocate relays (its verbose log).
  std::string log = turn->log ();
  EXPECT_NE (log.find (std::string ("user <") + kUser + ">"), std::string::npos) << log;
}

// Each side checks its own TURN server: whichever has the wrong password
// reports it (with both wrong, the first to notice ends the session and the
// other only sees that end).
TEST_F (Turn, WrongPasswordOnTheConsumerIsReported)
{
  auto prod = producer (turn->uri ());
  auto cons = consumer (relay_through (turn->uri ("not-the-password")));
  EXPECT_TRUE (cons->wait_for ([&] { return !cons->errors ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (cons->has_error_containing ("The connection to the producer failed: no relay "
      "candidate was gathered from TURN server " + turn->display ())) << cons->all_errors ();
  EXPECT_TRUE (cons->has_error_containing ("check the user and password"))
      << cons->all_errors ();
  EXPECT_FALSE (cons->has_error_containing ("not-the-password")) << cons->all_errors ();
  prod->pump (0);
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
}

TEST_F (Turn, WrongPasswordOnTheProducerIsReportedPerConsumer)
{
  auto prod = producer (turn->uri ("not-the-password"));
  auto cons = consumer (relay_through (turn->uri ()));
  const std::string why = "no relay candidate was gathered from TURN server " + turn->display ();
  // The producer drops that consumer with a warning, and carries on.
  EXPECT_TRUE (prod->wait_for ([&] { return prod->has_warning_containing (why); }, kTimeoutMs))
      << (prod->warnings ().empty () ? "no warning" : prod->warnings ().front ());
  EXPECT_TRUE (prod->has_warning_containing ("Consumer "));
  EXPECT_TRUE (prod->has_warning_containing ("check the user and password"));
  EXPECT_FALSE (prod->has_warning_containing ("not-the-password"));
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
  // The consumer is told the session ended (its bus cannot know why).
  EXPECT_TRUE (cons->wait_for ([&] { return !cons->errors ().empty () || cons->got_eos (); },
      kTimeoutMs));
}

TEST_F (Turn, TurnServerStoppedMidSessionFailsTheConnection)
{
  auto prod = producer (turn->uri ());
  auto cons = consumer (relay_through (turn->uri ()));
  auto v = cons->count ("v");
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 10 || !cons->errors ().empty (); },
      kTimeoutMs)) << cons->all_errors ();
  turn->kill_now ();
  EXPECT_TRUE (cons->wait_for ([&] { return !cons->errors ().empty (); }, kTimeoutMs))
      << "no error " << v->frames << " frames";
  EXPECT_TRUE (cons->has_error_containing ("The connection to the producer failed"))
      << cons->all_errors ();
  EXPECT_TRUE (cons->has_error_containing ("the path through the TURN relay (" +
      turn->display () + ") failed or was lost")) << cons->all_errors ();
  EXPECT_TRUE (prod->wait_for ([&] { return prod->has_warning_containing ("Consumer "); },
      kTimeoutMs));
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
}

// No path can exist: the consumer accepts only relays, and its TURN server
// does not answer. The consumer gets "connection failed" with the reason.
TEST_F (Turn, UnreachableTurnServerFailsTheConnection)
{
  unsigned nobody = free_port ();
  ASSERT_NE (nobody, 0u);
  const std::string dead = "turn://" + std::string (kUser) + ":x@127.0.0.1:" +
      std::to_string (nobody);
  auto prod = std::make_unique<Pipeline> (kVideo + " ! rtcstreamsink name=sink uri=" +
      server->uri ("cam"));
  prod->play ();
  ASSERT_TRUE (prod->wait_for ([&] { return prod->got_element_message ("rtcstream-registered") ||
                                     !prod->errors ().empty (); }, kTimeoutMs));
  auto cons = consumer (relay_through (dead));
  EXPECT_TRUE (cons->wait_for ([&] { return !cons->errors ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (cons->has_error_containing ("The connection to the producer failed"))
      << cons->all_errors ();
  EXPECT_TRUE (cons->has_error_containing ("no relay candidate was gathered from TURN server "
      "turn://rtcstream@127.0.0.1:" + std::to_string (nobody))) << cons->all_errors ();
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
}

// Set-up mistakes fail at start with a sentence that names the problem.
TEST_F (Turn, RelayWithoutTurnServersIsRefused)
{
  Pipeline p ("rtcstreamsrc uri=" + server->uri ("cam") +
      " ice-transport-policy=relay ! fakesink");
  ASSERT_TRUE (p.ok ()) << p.parse_error ();
  EXPECT_EQ (p.play (), GST_STATE_CHANGE_FAILURE);
  EXPECT_TRUE (p.wait_for ([&] { return !p.errors ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (p.has_error_containing ("ice-transport-policy=relay")) << p.all_errors ();
  EXPECT_TRUE (p.has_error_containing ("turn-servers is empty")) << p.all_errors ();
}

TEST_F (Turn, MalformedTurnServerIsRefusedNamingTheEntry)
{
  // The second entry has an unescaped '@' in its password.
  Pipeline p (kVideo + " ! rtcstreamsink uri=" + server->uri ("cam") +
      " turn-servers=\"<\\\"" + turn->uri () + "\\\", \\\"turn://u:se@cret@127.0.0.1:3478\\\">\"");
  ASSERT_TRUE (p.ok ()) << p.parse_error ();
  EXPECT_EQ (p.play (), GST_STATE_CHANGE_FAILURE);
  EXPECT_TRUE (p.wait_for ([&] { return !p.errors ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (p.has_error_containing ("turn-servers entry 2 is invalid")) << p.all_errors ();
  EXPECT_TRUE (p.has_error_containing ("%40")) << p.all_errors ();
  EXPECT_FALSE (p.has_error_containing ("cret")) << p.all_errors ();
}

}  // namespace

