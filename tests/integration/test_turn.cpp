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
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <string>

#include "coturn.h"
#include "harness.h"

using rtcstream::test::Coturn;
using rtcstream::test::free_port;
using rtcstream::test::have;
using rtcstream::test::kTurnServer;
using rtcstream::test::kVideo;
using rtcstream::test::pair_types;
using rtcstream::test::Pipeline;
using rtcstream::test::start_producer;
using rtcstream::test::ServerProcess;

namespace {

constexpr int kTimeoutMs = 20000;

// ice-transport-policy=relay turn-servers=<"URI"> as gst-launch syntax.
std::string
relay_through (const std::string &turn_uri)
{
  return "ice-transport-policy=relay turn-servers=\"<\\\"" + turn_uri + "\\\">\"";
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
    return start_producer (kVideo + " ! rtcstreamsink name=sink uri=" + server->uri (stream) +
        " " + relay_through (turn_uri), kTimeoutMs);
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
  EXPECT_NE (log.find (std::string ("user <") + Coturn::kUser + ">"), std::string::npos) << log;
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
  const std::string dead = "turn://" + std::string (Coturn::kUser) + ":x@127.0.0.1:" +
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

// Relay-only with no TURN server from turn-servers nor from the signalling
// server (which may hand one out in its welcome): the session fails at
// once, saying so, instead of waiting for ICE to time out.
TEST_F (Turn, RelayWithoutAnyTurnServerFailsTheSession)
{
  auto prod = std::make_unique<Pipeline> (kVideo + " ! rtcstreamsink uri=" + server->uri ("cam"));
  prod->play ();
  ASSERT_TRUE (prod->wait_registered (kTimeoutMs)) << prod->all_errors ();
  Pipeline p ("rtcstreamsrc uri=" + server->uri ("cam") +
      " ice-transport-policy=relay ! fakesink");
  ASSERT_TRUE (p.ok ()) << p.parse_error ();
  p.play ();
  EXPECT_TRUE (p.wait_for ([&] { return !p.errors ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (p.has_error_containing ("ice-transport-policy=relay, but neither turn-servers "
      "nor the signalling server")) << p.all_errors ();

  // On the producer's side the same mistake costs that consumer only: a
  // warning, and the producer goes on.
  auto relay_prod = std::make_unique<Pipeline> (kVideo + " ! rtcstreamsink name=sink "
      "ice-transport-policy=relay uri=" + server->uri ("relayed"));
  relay_prod->play ();
  ASSERT_TRUE (relay_prod->wait_registered (kTimeoutMs)) << relay_prod->all_errors ();
  auto viewer = consumer ("", "relayed");
  EXPECT_TRUE (relay_prod->wait_for ([&] {
    return relay_prod->has_warning_containing ("neither turn-servers nor the signalling server");
  }, kTimeoutMs)) << relay_prod->all_errors ();
  EXPECT_TRUE (relay_prod->errors ().empty ()) << relay_prod->all_errors ();
}

// rtcstream-signalling hands every peer a TURN server with credentials of
// its own (--turn-secret, coturn's use-auth-secret) in its welcome: producer
// and consumer, relay-only and without turn-servers, stream through it.
TEST_F (Turn, TurnServerHandedOutByTheSignallingServer)
{
  Coturn shared ("north-wind");
  ASSERT_TRUE (shared.ok ()) << "turnserver did not start:\n" << shared.log ();
  ServerProcess handing_out ({"--ice-server", "turn:127.0.0.1:" +
      std::to_string (shared.port ()), "--turn-secret", "north-wind"});
  ASSERT_TRUE (handing_out.ok ()) << "rtcstream-signalling did not start";
  Pipeline prod (kVideo + " ! rtcstreamsink name=sink ice-transport-policy=relay uri=" +
      handing_out.uri ("cam"));
  prod.play ();
  ASSERT_TRUE (prod.wait_registered (kTimeoutMs)) << prod.all_errors ();
  Pipeline cons ("rtcstreamsrc name=src ice-transport-policy=relay uri=" +
      handing_out.uri ("cam") + " ! fakesink name=v");
  auto v = cons.count ("v");
  cons.play ();
  EXPECT_TRUE (cons.wait_for ([&] { return v->frames >= 60 || !cons.errors ().empty (); },
      kTimeoutMs)) << "video " << v->frames << "\n" << shared.log ();
  EXPECT_TRUE (cons.errors ().empty ()) << cons.all_errors ();
  EXPECT_TRUE (cons.wait_for ([&] { return pair_types (cons.element ("src")) == "relay/relay"; },
      5000)) << pair_types (cons.element ("src"));
  // The per-peer user coturn saw: EXPIRY:PEER-ID, not a fixed one.
  EXPECT_NE (shared.log ().find ("ALLOCATE processed, success"), std::string::npos);
  EXPECT_EQ (shared.log ().find ("user <rtcstream>"), std::string::npos);
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

