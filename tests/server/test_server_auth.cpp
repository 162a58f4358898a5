// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The real rtcstream-signalling binary with tokens (docs/auth.md): on every
// path (websocket publish, watch and list; WHIP POST; WHEP POST; PATCH and
// DELETE of a session) the right token works, and a missing, expired or
// badly signed one (401 / "unauthorized") and one without the scope (403 /
// "forbidden") are refused, while the sessions already running go on. Also
// origins, the start-up messages, --mint-token, and that no token reaches
// the log.
#include <glib/gstdio.h>

#include "auth.h"
#include "raw-http.h"
#include "server-fixture.h"
#include "whip-offer.h"

namespace {

namespace sig = rtcstream::signalling;

const std::string kSecret = "a-secret-of-more-than-thirty-two-bytes-for-tests";

std::int64_t
now_s ()
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

std::string
token (const char *scopes, std::int64_t ttl = 600, const std::string &secret = kSecret)
{
  auto s = sig::parse_scopes (scopes, nullptr);
  EXPECT_TRUE (s);
  const std::int64_t now = now_s ();
  return sig::mint_jwt (*s, secret, now, now + ttl);
}

class ServerAuth : public ServerProcess {
protected:
  void SetUp () override
  {
    ServerProcess::SetUp ();
    char dir_template[] = "/tmp/rtcstream-auth-XXXXXX";
    ASSERT_TRUE (g_mkdtemp (dir_template));
    dir_ = dir_template;
    secret_file_ = dir_ + "/secret";
    ASSERT_TRUE (g_file_set_contents (secret_file_.c_str (), (kSecret + "\n").c_str (), -1,
        nullptr));
    log_path_ = dir_ + "/server.log";
    probe_token_ = token ("list");
  }

  void TearDown () override
  {
    ServerProcess::TearDown ();
    g_remove (secret_file_.c_str ());
    g_rmdir (dir_.c_str ());
  }

  void start_with_tokens (std::vector<std::string> extra = {})
  {
    std::vector<std::string> args = { "--token-secret-file", secret_file_ };
    args.insert (args.end (), extra.begin (), extra.end ());
    ASSERT_NO_FATAL_FAILURE (start (args));
  }

  // The tokens of one kind of failure, by name, for a scope that would be right.
  std::vector<std::pair<std::string, std::string>> invalid (const char *right_scope)
  {
    return { { "expired", token (right_scope, -3600) },
      { "bad signature", token (right_scope, 600, "another secret, thirty-two bytes long!") },
      { "garbage", "not-a-token" } };
  }

  // A connection whose token is refused gets one "unauthorized" error, then
  // a close with 1008 (policy violation).
  void expect_refused_at_connect (const std::string &bad, const std::string &what)
  {
    Client c (ctx_, session_);
    ASSERT_TRUE (c.connect (url_, bad)) << what << ": " << c.connect_error_;
    json err = c.expect ("error");
    EXPECT_EQ (err.value ("code", ""), "unauthorized") << what << ": " << err.dump ();
    EXPECT_FALSE (err.value ("details", "").empty ());
    EXPECT_TRUE (c.wait_closed ()) << what;
    EXPECT_EQ (c.close_code (), SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION) << what;
  }

  // No token given to the server is ever in its log.
  void expect_log_without (const std::vector<std::string> &tokens)
  {
    const std::string log = server_log ();
    EXPECT_FALSE (log.empty ());
    for (const std::string &t : tokens) {
      EXPECT_EQ (log.find (t), std::string::npos) << "a token is in the log:\n" << log;
      // Nor its signature alone.
      if (t.rfind ('.') != std::string::npos) {
        EXPECT_EQ (log.find (t.substr (t.rfind ('.') + 1)), std::string::npos) << log;
      }
    }
  }

  static std::string bearer (const std::string &t) { return "Authorization: Bearer " + t + "\r\n"; }

  std::string dir_, secret_file_;
};

TEST_F (ServerAuth, WebsocketPublish)
{
  ASSERT_NO_FATAL_FAILURE (start_with_tokens ());
  std::vector<std::string> used;
  auto publish = [&] (Client &c, const std::string &name) {
    c.send ({ { "type", "setPeerStatus" }, { "roles", { "producer", "listener" } },
        { "meta", { { "name", name } } } });
  };
  Client &none = join ();
  publish (none, "cam");
  none.expect_error ("unauthorized");

  const std::string wrong = token ("publish:other watch:* list");
  Client &scoped = join ("", wrong);
  publish (scoped, "cam");
  json err = scoped.expect ("error");
  EXPECT_EQ (err.value ("code", ""), "forbidden");
  EXPECT_NE (err.value ("details", "").find ("publish:cam"), std::string::npos) << err.dump ();
  for (const auto &[what, bad] : invalid ("publish:cam")) {
    expect_refused_at_connect (bad, what);
    used.push_back (bad);
  }

  const std::string right = token ("publish:cam*");
  Client &prod = join ("", right);
  publish (prod, "cam-1");
  EXPECT_EQ (prod.expect ("peerStatusChanged").value ("peerId", ""), prod.id);
  // The refused ones changed nothing: the connection that was told no is
  // still there and may do what needs no publish scope.
  scoped.send ({ { "type", "list" } });
  EXPECT_EQ (scoped.expect ("list")["producers"].size (), 1u);
  used.insert (used.end (), { wrong, right, probe_token_ });
  expect_log_without (used);
}

TEST_F (ServerAuth, WebsocketWatch)
{
  ASSERT_NO_FATAL_FAILURE (start_with_tokens ());
  Client &prod = join ("", token ("publish:cam"));
  prod.send ({ { "type", "setPeerStatus" }, { "roles", { "producer" } },
      { "meta", { { "name", "cam" } } } });
  Client &other = join ("", token ("publish:other"));
  other.send ({ { "type", "setPeerStatus" }, { "roles", { "producer" } },
      { "meta", { { "name", "other" } } } });

  // A session that runs while others are refused.
  const std::string right = token ("watch:cam");
  Client &viewer = join ("", right);
  const std::string sid = start_session (viewer, prod);

  auto start = [&] (Client &c, Client &target) {
    c.send ({ { "type", "startSession" }, { "peerId", target.id } });
  };
  Client &none = join ();
  start (none, prod);
  none.expect_error ("unauthorized");
  const std::string wrong = token ("watch:other publish:*");
  Client &scoped = join ("", wrong);
  start (scoped, prod);
  scoped.expect_error ("forbidden");
  start (viewer, other);
  viewer.expect_error ("forbidden");
  for (const auto &[what, bad] : invalid ("watch:cam"))
    expect_refused_at_connect (bad, what);

  relay (prod, viewer, sid);  // the running session was not disturbed
  // ?token= on the URL, for browsers, works as the header does.
  Client &browser = join (url_ + "?token=" + token ("watch:c*"));
  start_session (browser, prod);
  expect_log_without ({ right, wrong });
}

TEST_F (ServerAuth, WebsocketList)
{
  ASSERT_NO_FATAL_FAILURE (start_with_tokens ());
  for (const char *name : { "cam", "secret" }) {
    Client &p = join ("", token ((std::string ("publish:") + name).c_str ()));
    p.send ({ { "type", "setPeerStatus" }, { "roles", { "producer" } },
        { "meta", { { "name", name } } } });
  }
  auto names = [] (const json &list) {
    std::set<std::string> out;
    for (const json &p : list["producers"])
      out.insert (p["meta"].value ("name", ""));
    return out;
  };
  Client &all = join ("", token ("list"));
  all.send ({ { "type", "list" } });
  EXPECT_EQ (names (all.expect ("list")), (std::set<std::string>{ "cam", "secret" }));
  Client &viewer = join ("", token ("watch:cam"));
  viewer.send ({ { "type", "list" } });
  EXPECT_EQ (names (viewer.expect ("list")), (std::set<std::string>{ "cam" }))
      << "without list, a token sees the streams it may watch";

  Client &none = join ();
  none.send ({ { "type", "list" } });
  none.expect_error ("unauthorized");
  Client &scoped = join ("", token ("publish:*"));
  scoped.send ({ { "type", "list" } });
  scoped.expect_error ("forbidden");
  scoped.send ({ { "type", "listConsumers" } });
  scoped.expect_error ("forbidden");
  for (const auto &[what, bad] : invalid ("list"))
    expect_refused_at_connect (bad, what);
}

// WHIP POST, then PATCH and DELETE of its session; WHEP POST.
TEST_F (ServerAuth, WhipAndWhep)
{
  ASSERT_NO_FATAL_FAILURE (start_with_tokens ());
  auto post = [&] (const char *path, const std::string &headers) {
    return request (port_, "POST", path, static_offer (g_str_has_prefix (path, "/whep/")
        ? "recvonly" : "sendonly"), headers);
  };
  Reply missing = post ("/whip/cam", "");
  EXPECT_EQ (missing.status, 401) << missing.body;
  EXPECT_EQ (missing.header ("WWW-Authenticate"), "Bearer realm=\"rtcstream\"");
  Reply scoped = post ("/whip/cam", bearer (token ("publish:other watch:cam list")));
  EXPECT_EQ (scoped.status, 403) << scoped.body;
  EXPECT_NE (scoped.header ("WWW-Authenticate").find ("insufficient_scope"), std::string::npos);
  EXPECT_NE (scoped.body.find ("publish:cam"), std::string::npos) << scoped.body;
  for (const auto &[what, bad] : invalid ("publish:cam")) {
    Reply r = post ("/whip/cam", bearer (bad));
    EXPECT_EQ (r.status, 401) << what << ": " << r.body;
    EXPECT_NE (r.header ("WWW-Authenticate").find ("invalid_token"), std::string::npos) << what;
  }

  // WHEP: the same; the right token reaches the stream check (no such stream yet).
  EXPECT_EQ (post ("/whep/cam", "").status, 401);
  EXPECT_EQ (post ("/whep/cam", bearer (token ("watch:other publish:cam list"))).status, 403);
  for (const auto &[what, bad] : invalid ("watch:cam"))
    EXPECT_EQ (post ("/whep/cam", bearer (bad)).status, 401) << what;
  Reply whep = post ("/whep/cam", bearer (token ("watch:cam")));
  EXPECT_EQ (whep.status, 404) << whep.body;
  EXPECT_NE (whep.body.find ("No stream named"), std::string::npos) << whep.body;

  const std::string publisher = token ("publish:cam");
  Reply created = post ("/whip/cam", bearer (publisher));
  if (created.status == 503 && created.body.find ("not installed") != std::string::npos)
    GTEST_SKIP () << "no rtcstream plugin for the server: " << created.body;
  ASSERT_EQ (created.status, 201) << created.body;
  const std::string location = created.header ("Location");
  ASSERT_FALSE (location.empty ());
  // The server's own pipeline published with its own token: listed.
  EXPECT_TRUE (eventually ([&] {
    Client probe (ctx_, session_);
    if (!probe.join (url_, probe_token_))
      return false;
    probe.send ({ { "type", "list" } });
    auto reply = probe.next ();
    return reply && (*reply)["producers"].size () == 1;
  }, 5000));

  const std::string frag = "Content-Type: application/trickle-ice-sdpfrag\r\n";
  const std::string body = "a=ice-ufrag:Ab12\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
      "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n"
      "a=candidate:1 1 UDP 2122252543 127.0.0.1 9 typ host\r\n";
  for (const char *method : { "PATCH", "DELETE" }) {
    const std::string b = std::strcmp (method, "PATCH") == 0 ? body : std::string ();
    const std::string type = b.empty () ? std::string () : frag;
    EXPECT_EQ (request (port_, method, location, b, type).status, 401) << method;
    EXPECT_EQ (request (port_, method, location, b, type +
        bearer (token ("publish:other watch:cam"))).status, 403) << method;
    for (const auto &[what, bad] : invalid ("publish:cam"))
      EXPECT_EQ (request (port_, method, location, b, type + bearer (bad)).status, 401)
          << method << " " << what;
  }
  Reply patched = request (port_, "PATCH", location, body, frag + bearer (publisher));
  EXPECT_EQ (patched.status, 204) << patched.body;
  // Another token with the scope may end it (the scope is on the name).
  EXPECT_EQ (request (port_, "DELETE", location, "", bearer (token ("publish:c*"))).status, 200);
  expect_log_without ({ publisher });
}

// A server with --whip-token only keeps watching and listing open, as
// before; its WHIP token now also guards publishing on the websocket.
TEST_F (ServerAuth, FixedTokens)
{
  ASSERT_NO_FATAL_FAILURE (start ({ "--whip-token", "pub-s3cret" }));
  probe_token_.clear ();
  EXPECT_TRUE (eventually ([&] {
    return server_log ().find ("a token is needed to publish; anyone who reaches this "
        "server may watch and list") != std::string::npos;
  }, 5000)) << server_log ();
  Client &none = join ();
  none.send ({ { "type", "setPeerStatus" }, { "roles", { "producer" } },
      { "meta", { { "name", "cam" } } } });
  none.expect_error ("unauthorized");
  Client &prod = join ("", "pub-s3cret");
  prod.send ({ { "type", "setPeerStatus" }, { "roles", { "producer" } },
      { "meta", { { "name", "cam" } } } });
  Client &viewer = join ();
  viewer.send ({ { "type", "list" } });
  EXPECT_EQ (viewer.expect ("list")["producers"].size (), 1u);
  start_session (viewer, prod);
  expect_refused_at_connect ("pub-s3cre", "a wrong fixed token");
  EXPECT_EQ (request (port_, "POST", "/whip/x", static_offer ("sendonly"),
      bearer ("wrong")).status, 401);
  expect_log_without ({ "pub-s3cret" });
}

// --token-file: the same fixed token, read from a file so that it is not in
// the process list; the token itself and the file together are refused.
TEST_F (ServerAuth, TokenFromAFile)
{
  const std::string file = dir_ + "/token";
  ASSERT_TRUE (g_file_set_contents (file.c_str (), "file-s3cret\n", -1, nullptr));
  probe_token_ = "file-s3cret";
  ASSERT_NO_FATAL_FAILURE (start ({ "--token-file", file }));
  Client &none = join ();
  none.send ({ { "type", "list" } });
  none.expect_error ("unauthorized");
  Client &with = join ("", "file-s3cret");
  with.send ({ { "type", "list" } });
  EXPECT_TRUE (with.expect ("list").contains ("producers"));
  expect_refused_at_connect ("file-s3cre", "a wrong token");
  EXPECT_EQ (request (port_, "POST", "/whip/x", static_offer ("sendonly"),
      bearer ("file-s3cre")).status, 401);
  g_autofree char *cmdline = nullptr;
  gsize size = 0;
  ASSERT_TRUE (g_file_get_contents (("/proc/" + std::to_string (pid ()) + "/cmdline").c_str (),
      &cmdline, &size, nullptr));
  EXPECT_EQ (std::string (cmdline, size).find ("file-s3cret"), std::string::npos);
  expect_log_without ({ "file-s3cret" });

  EXPECT_EQ (exit_status ({ "--token-file", file, "--token", "x" }), 2);
  EXPECT_EQ (exit_status ({ "--whep-token-file", dir_ + "/missing" }), 2);
  const std::string empty = dir_ + "/empty", two = dir_ + "/two";
  ASSERT_TRUE (g_file_set_contents (empty.c_str (), "\n", -1, nullptr));
  ASSERT_TRUE (g_file_set_contents (two.c_str (), "a\nb\n", -1, nullptr));
  EXPECT_EQ (exit_status ({ "--whip-token-file", empty }), 2);
  EXPECT_EQ (exit_status ({ "--whip-token-file", two }), 2);
  for (const std::string &f : { file, empty, two })
    g_remove (f.c_str ());
}

TEST_F (ServerAuth, Origins)
{
  ASSERT_NO_FATAL_FAILURE (start_with_tokens ({ "--allowed-origin", "https://app.example.net" }));
  auto upgrade = [&] (const std::string &origin) {
    return request (port_, "GET", "/ws", "", "Connection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        (origin.empty () ? std::string () : "Origin: " + origin + "\r\n"), "127.0.0.1", 500);
  };
  EXPECT_EQ (upgrade ("https://evil.example").status, 403);
  EXPECT_EQ (upgrade ("http://localhost:1234").status, 403)
      << "a list replaces the loopback default";
  EXPECT_EQ (upgrade ("https://app.example.net").status, 101);
  EXPECT_EQ (upgrade ("http://127.0.0.1").status, 101) << "the server's own pages";
  EXPECT_EQ (upgrade ("").status, 101) << "not a browser";

  Reply evil = request (port_, "OPTIONS", "/whip/cam", "", "Origin: https://evil.example\r\n");
  EXPECT_EQ (evil.status, 403);
  EXPECT_EQ (evil.header ("Access-Control-Allow-Origin"), "");
  Reply ok = request (port_, "OPTIONS", "/whip/cam", "", "Origin: https://app.example.net\r\n");
  EXPECT_EQ (ok.status, 204);
  EXPECT_EQ (ok.header ("Access-Control-Allow-Origin"), "https://app.example.net");
  EXPECT_EQ (ok.header ("Vary"), "Origin");
  Reply refused = request (port_, "POST", "/whip/cam", static_offer ("sendonly"),
      "Origin: https://app.example.net\r\n");
  EXPECT_EQ (refused.status, 401);
  EXPECT_EQ (refused.header ("Access-Control-Allow-Origin"), "https://app.example.net")
      << "so that the page can read why";
}

TEST_F (ServerAuth, StartUpSaysWhatIsOpen)
{
  ASSERT_NO_FATAL_FAILURE (start ({ "--host", "127.0.0.1" }));
  probe_token_.clear ();
  EXPECT_TRUE (eventually ([&] {
    return server_log ().find ("no token configured") != std::string::npos;
  }, 5000)) << server_log ();
  EXPECT_EQ (server_log ().find ("WARNING"), std::string::npos) << server_log ();
  EXPECT_EQ (terminate (), 0);
  g_clear_object (&proc_);
  exited_ = false;
  port_ = 0;

  // Beyond loopback without a token: a warning. The test reads the port
  // from the line, which names the host.
  const char *binary = g_getenv ("RTCSTREAM_SIGNALLING");
  ASSERT_TRUE (binary);
  const std::string log = dir_ + "/open.log";
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_subprocess_launcher_set_stderr_file_path (launcher, log.c_str ());
  g_autoptr (GSubprocess) open = g_subprocess_launcher_spawn (launcher, nullptr, binary,
      "--port", "0", "--host", "0.0.0.0", nullptr);
  ASSERT_TRUE (open);
  std::string text;
  eventually ([&] {
    g_autofree char *t = nullptr;
    if (g_file_get_contents (log.c_str (), &t, nullptr, nullptr))
      text = t;
    return text.find ("WARNING") != std::string::npos;
  }, 5000);
  g_subprocess_send_signal (open, SIGTERM);
  g_subprocess_wait (open, nullptr, nullptr);
  g_remove (log.c_str ());
  EXPECT_NE (text.find ("WARNING: listening on 0.0.0.0"), std::string::npos) << text;
}

TEST_F (ServerAuth, MintToken)
{
  const char *binary = g_getenv ("RTCSTREAM_SIGNALLING");
  ASSERT_TRUE (binary);
  g_autofree char *out = nullptr;
  gint status = -1;
  const std::string cmd = std::string (binary) + " --mint-token 'publish:cam* list' "
      "--token-secret-file " + secret_file_ + " --ttl 120";
  ASSERT_TRUE (g_spawn_command_line_sync (cmd.c_str (), &out, nullptr, &status, nullptr));
  EXPECT_TRUE (g_spawn_check_wait_status (status, nullptr));
  std::string minted = out;
  while (!minted.empty () && minted.back () == '\n')
    minted.pop_back ();
  sig::JwtResult r = sig::verify_jwt (minted, kSecret, now_s ());
  ASSERT_TRUE (r.ok ()) << r.problem << ": " << minted;
  EXPECT_EQ (sig::scopes_text (r.claims.scopes), "publish:cam* list");
  EXPECT_NEAR (static_cast<double> (r.claims.expires_s - now_s ()), 120.0, 5.0);

  EXPECT_EQ (exit_status ({ "--mint-token", "list" }), 2) << "no secret";
  EXPECT_EQ (exit_status ({ "--mint-token", "delete:cam", "--token-secret-file",
      secret_file_ }), 2);
  EXPECT_EQ (exit_status ({ "--mint-token", "list", "--token-secret-file", secret_file_,
      "--ttl", "0" }), 2);
  const std::string short_file = dir_ + "/short";
  ASSERT_TRUE (g_file_set_contents (short_file.c_str (), "tooshort\n", -1, nullptr));
  EXPECT_EQ (exit_status ({ "--token-secret-file", short_file }), 2);
  g_remove (short_file.c_str ());
}

}  // namespace
