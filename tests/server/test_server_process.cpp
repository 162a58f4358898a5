// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The real rtcstream-signalling binary against real websocket and HTTP
// clients (fixture in server-fixture.h): the protocol, the web client, limits
// of the websocket side.
#include "server-fixture.h"

TEST_F (ServerProcess, WelcomeOnWsAndRootPaths)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  Client &a = join ();
  Client &b = join ("ws://127.0.0.1:" + std::to_string (port_));  // gst-plugins-rs style
  EXPECT_NE (a.id, b.id);

  // Plain HTTP on / is the web page, not an upgrade.
  HttpReply page = http ("/");
  EXPECT_EQ (page.status, SOUP_STATUS_OK);
  EXPECT_NE (page.body.find ("rtcstream.js"), std::string::npos) << page.body;
}

TEST_F (ServerProcess, ServesTheEmbeddedWebClient)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  HttpReply page = http ("/");
  EXPECT_EQ (page.status, SOUP_STATUS_OK);
  EXPECT_EQ (page.type.rfind ("text/html", 0), 0u) << page.type;
  EXPECT_NE (page.body.find ("<!DOCTYPE html>"), std::string::npos);
  EXPECT_NE (page.body.find ("./rtcstream.js"), std::string::npos);
  EXPECT_EQ (http ("/index.html").body, page.body);

  HttpReply js = http ("/rtcstream.js");
  EXPECT_EQ (js.status, SOUP_STATUS_OK);
  EXPECT_EQ (js.type.rfind ("text/javascript", 0), 0u) << js.type;
  EXPECT_NE (js.body.find ("export class RtcStreamClient"), std::string::npos);
  EXPECT_EQ (http ("/rtcstream.js", "HEAD").status, SOUP_STATUS_OK);

  EXPECT_EQ (http ("/nothing-here.js").status, SOUP_STATUS_NOT_FOUND);
  EXPECT_EQ (http ("/web/index.html").status, SOUP_STATUS_NOT_FOUND);
  EXPECT_EQ (http ("/", "POST").status, SOUP_STATUS_METHOD_NOT_ALLOWED);
  // Paths that try to climb out, as a client sends them unnormalized.
  for (const char *path : { "/../etc/passwd", "/%2e%2e/etc/passwd", "/./../etc/passwd",
           "/..\\etc\\passwd", "//etc/passwd", "/.%2e/.%2e/etc/passwd" }) {
    const std::string status = raw_get (path);
    EXPECT_NE (status.find (" 404 "), std::string::npos) << path << ": " << status;
  }
  // The websocket still answers on / and /ws.
  join ();
  join ("ws://127.0.0.1:" + std::to_string (port_));
}

TEST_F (ServerProcess, WebRootServesOnlyRegularFilesInside)
{
  g_autofree char *tmp = g_dir_make_tmp ("rtcstream-web-XXXXXX", nullptr);
  ASSERT_TRUE (tmp);
  const std::string dir = tmp;
  const std::string root = dir + "/root";
  ASSERT_EQ (g_mkdir (root.c_str (), 0700), 0);
  ASSERT_EQ (g_mkdir ((root + "/sub").c_str (), 0700), 0);
  ASSERT_EQ (g_mkdir ((root + "/.git").c_str (), 0700), 0);
  ASSERT_TRUE (g_file_set_contents ((root + "/index.html").c_str (), "<p>mine</p>", -1, nullptr));
  ASSERT_TRUE (g_file_set_contents ((root + "/sub/app.js").c_str (), "export {};", -1, nullptr));
  ASSERT_TRUE (g_file_set_contents ((root + "/.git/config").c_str (), "x", -1, nullptr));
  ASSERT_TRUE (g_file_set_contents ((dir + "/secret.txt").c_str (), "secret", -1, nullptr));
  ASSERT_EQ (symlink ((dir + "/secret.txt").c_str (), (root + "/link.txt").c_str ()), 0);
  ASSERT_EQ (symlink ("app.js", (root + "/sub/alias.js").c_str ()), 0);

  ASSERT_NO_FATAL_FAILURE (start ({ "--web-root", root }));
  HttpReply page = http ("/");
  EXPECT_EQ (page.status, SOUP_STATUS_OK);
  EXPECT_EQ (page.body, "<p>mine</p>");
  HttpReply js = http ("/sub/app.js");
  EXPECT_EQ (js.status, SOUP_STATUS_OK);
  EXPECT_EQ (js.type.rfind ("text/javascript", 0), 0u) << js.type;
  EXPECT_EQ (js.body, "export {};");
  EXPECT_EQ (http ("/sub/alias.js").body, "export {};");  // a link that stays inside

  EXPECT_EQ (http ("/rtcstream.js").status, SOUP_STATUS_NOT_FOUND);  // not the embedded one
  EXPECT_EQ (http ("/sub").status, SOUP_STATUS_NOT_FOUND);            // a directory
  EXPECT_EQ (http ("/sub/").status, SOUP_STATUS_NOT_FOUND);           // ... without index.html
  EXPECT_EQ (http ("/link.txt").status, SOUP_STATUS_NOT_FOUND);       // a link out
  EXPECT_EQ (http ("/.git/config").status, SOUP_STATUS_NOT_FOUND);    // hidden
  for (const char *path : { "/../secret.txt", "/%2e%2e/secret.txt", "/sub/../../secret.txt" }) {
    const std::string status = raw_get (path);
    EXPECT_NE (status.find (" 404 "), std::string::npos) << path << ": " << status;
  }
  join ();

  for (const char *name : { "/root/sub/alias.js", "/root/sub/app.js", "/root/link.txt",
           "/root/.git/config", "/root/index.html", "/secret.txt", "/root/sub", "/root/.git",
           "/root", "" })
    g_remove ((dir + name).c_str ());
}

TEST_F (ServerProcess, WebRootMustBeADirectoryAndResumeGraceNotNegative)
{
  EXPECT_EQ (exit_status ({ "--port", "0", "--web-root", "/nonexistent/rtcstream-web" }), 2);
  EXPECT_EQ (exit_status ({ "--port", "0", "--resume-grace", "-1" }), 2);
}

// A wrong --ice-transport-policy stops the server at start, saying why,
// rather than serving WHIP/WHEP with a policy nobody asked for.
TEST_F (ServerProcess, IceTransportPolicyMustBeAllOrRelay)
{
  std::string err;
  EXPECT_EQ (exit_status ({ "--port", "0", "--ice-transport-policy", "none" }, &err), 2);
  EXPECT_NE (err.find ("--ice-transport-policy must be all or relay (got \"none\")"),
      std::string::npos) << err;
  // relay without a TURN server to relay through.
  EXPECT_EQ (exit_status ({ "--port", "0", "--ice-transport-policy", "relay" }, &err), 2);
  EXPECT_NE (err.find ("--ice-transport-policy relay needs a turn: or turns: --ice-server"),
      std::string::npos) << err;
}

TEST_F (ServerProcess, ProducerRegistrationAndList)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  Client &l = listener ();
  Client &prod = producer ("cam");
  json changed = l.expect ("peerStatusChanged");
  EXPECT_EQ (changed["peerId"], prod.id);
  EXPECT_EQ (changed["roles"], json ({ "producer" }));
  EXPECT_EQ (changed["meta"]["name"], "cam");

  Client &viewer = join ();
  viewer.send ({ { "type", "list" } });
  json list = viewer.expect ("list");
  ASSERT_EQ (list["producers"].size (), 1u) << list.dump ();
  EXPECT_EQ (list["producers"][0]["id"], prod.id);
  EXPECT_EQ (list["producers"][0]["meta"]["name"], "cam");
}

TEST_F (ServerProcess, DuplicateStreamNameIsRefused)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  Client &first = producer ("cam");
  Client &second = producer ("cam");
  second.expect_error ("name-taken");
  Client &viewer = join ();
  viewer.send ({ { "type", "list" } });
  json list = viewer.expect ("list");
  ASSERT_EQ (list["producers"].size (), 1u) << list.dump ();
  EXPECT_EQ (list["producers"][0]["id"], first.id);
}

TEST_F (ServerProcess, GarbageDoesNotDisturbOtherSessions)
{
  const std::size_t limit = 8192;
  ASSERT_NO_FATAL_FAILURE (start ({ "--max-message-size", std::to_string (limit) }));
  Client &prod = producer ("stage");
  Client &cons = join ();
  Client &rogue = join ();
  std::string sid = start_session (cons, prod);

  rogue.send_text ("this is not json");
  rogue.expect_error ("invalid-message");
  prod.send ({ { "type", "peer" }, { "sessionId", sid },
      { "sdp", { { "type", "offer" }, { "sdp", "v=0 first" } } } });
  rogue.send_binary (std::string ("\x00\x01\x02", 3));
  rogue.expect_error ("invalid-message");
  EXPECT_EQ (cons.expect ("peer")["sdp"]["sdp"], "v=0 first");

  rogue.send_text (std::string (limit + 1, ' '));
  rogue.expect_error ("too-large");
  rogue.send ({ { "type", "hijack" }, { "sessionId", sid } });
  rogue.expect_error ("unknown-type");
  rogue.send ({ { "type", "peer" }, { "sessionId", sid },
      { "sdp", { { "type", "answer" }, { "sdp", "v=0 evil" } } } });
  rogue.expect_error ("unknown-session");
  rogue.send ({ { "type", "endSession" }, { "sessionId", sid } });
  rogue.expect_error ("unknown-session");

  relay (prod, cons, sid);

  // A frame far over the limit closes the sender's connection.
  rogue.send_text (std::string (limit + 200 * 1024, ' '));
  EXPECT_TRUE (rogue.wait_closed ());
  EXPECT_EQ (rogue.close_code (), SOUP_WEBSOCKET_CLOSE_TOO_BIG);

  relay (prod, cons, sid);
  cons.send ({ { "type", "endSession" }, { "sessionId", sid } });
  EXPECT_EQ (prod.expect ("endSession")["sessionId"], sid);
  EXPECT_TRUE (prod.inbox.empty ());
  EXPECT_TRUE (cons.inbox.empty ());
}

TEST_F (ServerProcess, DisconnectEndsSessionsAndNotifiesListeners)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  Client &l = listener ();
  Client &prod = producer ("cam");
  l.expect ("peerStatusChanged");
  Client &c1 = join ();
  Client &c2 = join ();
  std::string s1 = start_session (c1, prod);
  std::string s2 = start_session (c2, prod);
  std::string s3 = start_session (c1, prod);  // two sessions on one connection
  relay (prod, c1, s3);

  prod.close ();
  std::set<std::string> ended;
  for (Client *c : { &c1, &c2, &c1 }) {
    json end = c->expect ("endSession");
    ended.insert (end.value ("sessionId", ""));
  }
  EXPECT_EQ (ended, (std::set<std::string> { s1, s2, s3 }));
  json left = l.expect ("peerStatusChanged");
  EXPECT_EQ (left["peerId"], prod.id);
  EXPECT_EQ (left["roles"], json::array ());
  EXPECT_EQ (left["meta"]["name"], "cam");

  // The name is free again.
  Client &again = producer ("cam");
  json back = l.expect ("peerStatusChanged");
  EXPECT_EQ (back["peerId"], again.id);
}

TEST_F (ServerProcess, PeerLimit)
{
  ASSERT_NO_FATAL_FAILURE (start ({ "--max-peers", "2" }));
  join ();
  Client &second = join ();
  clients_.push_back (std::make_unique<Client> (ctx_, session_));
  Client &third = *clients_.back ();
  ASSERT_TRUE (third.connect (url_));
  third.expect_error ("limit-reached");
  EXPECT_TRUE (third.wait_closed ());

  second.close ();
  EXPECT_TRUE (second.wait_closed ());
  join ();  // room again
}

TEST_F (ServerProcess, SessionLimit)
{
  ASSERT_NO_FATAL_FAILURE (start ({ "--max-sessions-per-peer", "1" }));
  Client &prod = producer ("cam");
  Client &c1 = join ();
  Client &c2 = join ();
  start_session (c1, prod);
  c2.send ({ { "type", "startSession" }, { "peerId", prod.id } });
  c2.expect_error ("limit-reached");
}

// A peer that stops answering pings (a vanished host) is dropped after three
// ping intervals; healthy idle peers, whose libsoup answers pings, stay.
TEST_F (ServerProcess, VanishedPeerIsDropped)
{
  ASSERT_NO_FATAL_FAILURE (start ({ "--ping-interval", "1" }));
  Client &l = listener ();

  // A hand-made websocket client that never reads again after its handshake.
  g_autoptr (GSocketClient) sc = g_socket_client_new ();
  g_autoptr (GError) error = nullptr;
  g_autoptr (GSocketConnection) tcp = g_socket_client_connect_to_host (sc, "127.0.0.1",
      static_cast<guint16> (port_), nullptr, &error);
  ASSERT_TRUE (tcp) << error->message;
  GSocket *sock = g_socket_connection_get_socket (tcp);
  std::string request = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  ASSERT_EQ (g_socket_send (sock, request.data (), request.size (), nullptr, nullptr),
      static_cast<gssize> (request.size ()));
  // A masked text frame (mask 0) announcing a producer.
  std::string status = R"({"type":"setPeerStatus","roles":["producer"],"meta":{"name":"ghost"}})";
  ASSERT_LT (status.size (), 126u);
  std::string frame = { '\x81', static_cast<char> (0x80 | status.size ()), 0, 0, 0, 0 };
  frame += status;
  ASSERT_EQ (g_socket_send (sock, frame.data (), frame.size (), nullptr, nullptr),
      static_cast<gssize> (frame.size ()));

  json joined = l.expect ("peerStatusChanged");
  EXPECT_EQ (joined["meta"]["name"], "ghost");
  const std::string ghost = joined.value ("peerId", "");

  const gint64 t0 = g_get_monotonic_time ();
  auto gone = l.next (8000);
  ASSERT_TRUE (gone) << "the silent peer was never dropped";
  EXPECT_EQ ((*gone)["type"], "peerStatusChanged");
  EXPECT_EQ ((*gone)["peerId"], ghost);
  EXPECT_EQ ((*gone)["roles"], json::array ());
  EXPECT_GE (g_get_monotonic_time () - t0, 1 * G_USEC_PER_SEC);

  // The listener idled through all of it and is still served.
  l.send ({ { "type", "list" } });
  EXPECT_EQ (l.expect ("list")["producers"], json::array ());
}

TEST_F (ServerProcess, SigtermClosesClientsAndExitsZero)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  Client &a = join ();
  Client &b = producer ("cam");
  ASSERT_TRUE (still_alive ());
  EXPECT_EQ (terminate (), 0);
  EXPECT_TRUE (a.wait_closed (2000));
  EXPECT_TRUE (b.wait_closed (2000));
  EXPECT_EQ (a.close_code (), SOUP_WEBSOCKET_CLOSE_GOING_AWAY);
}
