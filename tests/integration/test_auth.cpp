// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Tokens end to end (docs/auth.md): rtcstream-signalling requiring signed
// tokens, tokens minted with its --mint-token as a user does, and
// rtcstreamsink/rtcstreamsrc streaming with auth-token; an element without a
// token, or with one of the wrong scope, fails with an error naming
// auth-token while the running stream goes on.
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "harness.h"

using rtcstream::test::kVideo;
using rtcstream::test::Pipeline;
using rtcstream::test::ServerProcess;

namespace {

constexpr int kTimeoutMs = 20000;

class AuthStreaming : public rtcstream::test::StreamingTest {
protected:
  void SetUp () override
  {
    StreamingTest::SetUp ();
    if (IsSkipped () || HasFatalFailure ())
      return;
    char dir_template[] = "/tmp/rtcstream-auth-XXXXXX";
    ASSERT_TRUE (g_mkdtemp (dir_template));
    dir_ = dir_template;
    secret_file_ = dir_ + "/secret";
    ASSERT_TRUE (g_file_set_contents (secret_file_.c_str (),
        "integration-test-secret-at-least-32-bytes\n", -1, nullptr));
    server = std::make_unique<ServerProcess> (std::vector<std::string>{ "--token-secret-file",
        secret_file_ });
    ASSERT_TRUE (server->ok ()) << "rtcstream-signalling did not start";
  }

  void TearDown () override
  {
    server.reset ();
    if (!secret_file_.empty ())
      g_remove (secret_file_.c_str ());
    if (!dir_.empty ())
      g_rmdir (dir_.c_str ());
  }

  // rtcstream-signalling --mint-token SCOPES --token-secret-file F
  std::string mint (const std::string &scopes)
  {
    const char *binary = g_getenv ("RTCSTREAM_SIGNALLING");
    EXPECT_TRUE (binary);
    if (!binary)
      return "";
    const char *argv[] = { binary, "--mint-token", scopes.c_str (), "--token-secret-file",
      secret_file_.c_str (), "--ttl", "600", nullptr };
    g_autofree char *out = nullptr;
    gint status = -1;
    EXPECT_TRUE (g_spawn_sync (nullptr, const_cast<char **> (argv), nullptr,
        G_SPAWN_DEFAULT, nullptr, nullptr, &out, nullptr, &status, nullptr));
    EXPECT_TRUE (g_spawn_check_wait_status (status, nullptr));
    std::string token = out ? out : "";
    while (!token.empty () && token.back () == '\n')
      token.pop_back ();
    EXPECT_FALSE (token.empty ());
    return token;
  }

  // A viewer of cam; one the server does not show cam to gives up after
  // `wait_ms` (producer-timeout).
  std::unique_ptr<Pipeline> watcher (const std::string &token, int wait_ms = 5000)
  {
    return rtcstream::test::start_consumer ("rtcstreamsrc name=src uri=" +
        server->uri ("cam") + (token.empty () ? "" : " auth-token=" + token) +
        " producer-timeout=" + std::to_string (wait_ms) + " src. ! queue ! fakesink name=v");
  }

  std::unique_ptr<ServerProcess> server;
  std::string dir_, secret_file_;
};

TEST_F (AuthStreaming, ElementsStreamWithTheirTokensAndOthersAreRefused)
{
  // Publishing without a token fails, naming auth-token.
  {
    Pipeline tokenless (kVideo + " ! rtcstreamsink uri=" + server->uri ("cam"));
    ASSERT_TRUE (tokenless.ok ()) << tokenless.parse_error ();
    tokenless.play ();
    EXPECT_TRUE (tokenless.wait_for ([&] { return !tokenless.errors ().empty (); },
        kTimeoutMs));
    EXPECT_TRUE (tokenless.has_error_containing ("auth-token")) << tokenless.all_errors ();
    tokenless.stop ();
  }

  auto prod = rtcstream::test::start_producer (kVideo + " ! rtcstreamsink uri=" +
      server->uri ("cam") + " auth-token=" + mint ("publish:cam"), kTimeoutMs);
  ASSERT_TRUE (prod->errors ().empty ()) << prod->all_errors ();

  auto cons = watcher (mint ("watch:cam"));
  ASSERT_TRUE (cons->wait_for ([&] { return cons->element ("v") != nullptr; }, kTimeoutMs))
      << cons->all_errors ();
  auto frames = cons->count ("v");
  ASSERT_TRUE (cons->wait_for ([&] { return frames->frames >= 30; }, kTimeoutMs))
      << frames->frames << " frames; " << cons->all_errors ();

  // Refused viewers: no token, a token for another stream. Each fails with
  // an error naming auth-token, and the running viewer goes on.
  for (const std::string &token : { std::string (), mint ("watch:other publish:cam") }) {
    auto refused = watcher (token, 1500);
    EXPECT_TRUE (refused->wait_for ([&] { return !refused->errors ().empty (); }, kTimeoutMs));
    EXPECT_TRUE (refused->has_error_containing ("auth-token")) << refused->all_errors ();
    EXPECT_EQ (refused->element ("v") ? refused->count ("v")->frames.load () : 0, 0);
  }
  const int before = frames->frames;
  EXPECT_TRUE (cons->wait_for ([&] { return frames->frames >= before + 30; }, kTimeoutMs))
      << "the authorized viewer stalled at " << frames->frames;
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
  EXPECT_TRUE (server->alive ());
}

}  // namespace
