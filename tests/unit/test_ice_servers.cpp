// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The STUN/TURN servers the signalling server hands out (signalling/
// ice-servers.h): option checks, per-peer TURN REST credentials, and the
// RFC 9725 Link header values of WHIP/WHEP answers.
#include <gtest/gtest.h>

#include "ice-servers.h"
#include "rtcstream/signallers/ice-server.h"

namespace s = rtcstream::signalling;
namespace p = rtcstream::protocol;

namespace {

s::IceServerOptions
options (std::vector<std::string> urls, std::string secret = {}, std::string user = {},
    std::string password = {})
{
  s::IceServerOptions o;
  o.urls = std::move (urls);
  o.turn_secret = std::move (secret);
  o.turn_user = std::move (user);
  o.turn_password = std::move (password);
  return o;
}

}  // namespace

TEST (IceServers, ValidOptions)
{
  EXPECT_EQ (s::check_ice_server_options (options ({})), "");
  EXPECT_EQ (s::check_ice_server_options (options ({"stun:stun.example.net:3478"})), "");
  EXPECT_EQ (s::check_ice_server_options (options (
      {"stun:h", "turn:h:3478?transport=udp", "turns:h:5349"}, "secret")), "");
  EXPECT_EQ (s::check_ice_server_options (options ({"turn:h"}, "", "u", "p")), "");
  auto relay = options ({"turn:h"}, "secret");
  relay.relay_only = true;
  EXPECT_EQ (s::check_ice_server_options (relay), "");
}

TEST (IceServers, InvalidOptionsAreNamed)
{
  struct Case {
    s::IceServerOptions o;
    const char *says;
  } cases[] = {
    {options ({"http://h"}), "not a stun:, turn: or turns: URL"},
    {options ({"turn://u:p@h"}, "x"), "without '//', user or password"},
    {options ({"stun:"}), "SCHEME:HOST"},
    {options ({"stun:h>, <evil:x"}), "SCHEME:HOST"},
    {options ({"turn:h"}), "needs credentials"},
    {options ({"turn:h"}, "x", "u", "p"), "exclude each other"},
    {options ({"turn:h"}, "", "u", ""), "go together"},
    {options ({"stun:h"}, "x"), "no turn: or turns:"},
    {[] { auto o = options ({"stun:h"}); o.relay_only = true; return o; } (),
     "--ice-transport-policy relay needs a turn:"},
  };
  for (const Case &c : cases) {
    std::string problem = s::check_ice_server_options (c.o);
    EXPECT_NE (problem.find (c.says), std::string::npos)
        << (c.o.urls.empty () ? "" : c.o.urls[0]) << ": " << problem;
  }
}

// The TURN REST API credential, checked against Python's hmac/base64.
TEST (IceServers, TurnRestPassword)
{
  EXPECT_EQ (s::turn_rest_password ("north-wind", "1700086400:peer-1"),
      "VKlwgioltei0kn+zDgJOJyz4pxI=");
}

TEST (IceServers, PerPeerCredentialsExpireAfterTheTtl)
{
  auto o = options ({"stun:s:3478", "turn:t:3478?transport=udp", "turns:t:5349"}, "north-wind");
  o.turn_ttl_s = 86400;
  auto servers = s::ice_servers_for (o, "peer-1", 1700000000);
  ASSERT_EQ (servers.size (), 2u);
  EXPECT_EQ (servers[0].urls, std::vector<std::string> { "stun:s:3478" });
  EXPECT_TRUE (servers[0].username.empty ());
  EXPECT_EQ (servers[1].urls,
      (std::vector<std::string> { "turn:t:3478?transport=udp", "turns:t:5349" }));
  EXPECT_EQ (servers[1].username, "1700086400:peer-1");
  EXPECT_EQ (servers[1].credential, "VKlwgioltei0kn+zDgJOJyz4pxI=");
  // Another peer, another credential.
  EXPECT_NE (s::ice_servers_for (o, "peer-2", 1700000000)[1].credential,
      servers[1].credential);
}

TEST (IceServers, FixedCredentials)
{
  auto servers = s::ice_servers_for (options ({"turn:t"}, "", "alice", "s3cret"), "x", 1);
  ASSERT_EQ (servers.size (), 1u);
  EXPECT_EQ (servers[0].username, "alice");
  EXPECT_EQ (servers[0].credential, "s3cret");
}

TEST (IceServers, LinkHeaderValues)
{
  std::vector<p::IceServer> servers = {
    {{"stun:s:3478"}, "", ""},
    {{"turn:t:3478?transport=udp", "turns:t:5349"}, "u\"1", "p\\2"},
  };
  EXPECT_EQ (s::link_header_values (servers), (std::vector<std::string> {
      "<stun:s:3478>; rel=\"ice-server\"",
      "<turn:t:3478?transport=udp>; rel=\"ice-server\"; username=\"u\\\"1\"; "
      "credential=\"p\\\\2\"; credential-type=\"password\"",
      "<turns:t:5349>; rel=\"ice-server\"; username=\"u\\\"1\"; "
      "credential=\"p\\\\2\"; credential-type=\"password\"",
  }));
}

// One place turns servers into webrtcbin's stun-server and turn-servers,
// for the elements' sessions and the server's WHIP/WHEP sessions alike: the
// first STUN URL of all, and every TURN URL, also of an entry that holds
// both kinds.
TEST (IceServers, WebrtcbinUris)
{
  std::vector<p::IceServer> servers = {
    {{"stun:s:3478", "stun:s2:3478"}, "", ""},
    {{"turn:t:3478?transport=udp", "turns:t:5349"}, "1700086400:peer-1", "a+b/c="},
    {{"stun:s3:3478", "turn:u:3478", "https://not-ice"}, "u", "p"},
  };
  const rtcstream::WebrtcbinIceUris uris = rtcstream::webrtcbin_ice_uris (servers);
  EXPECT_EQ (uris.stun, "stun://s:3478");
  EXPECT_EQ (uris.turn, (std::vector<std::string> {
      "turn://1700086400%3Apeer-1:a%2Bb%2Fc%3D@t:3478?transport=udp",
      "turns://1700086400%3Apeer-1:a%2Bb%2Fc%3D@t:5349",
      "turn://u:p@u:3478",
  }));
  EXPECT_EQ (rtcstream::webrtcbin_ice_uris ({}).stun, "");
  EXPECT_TRUE (rtcstream::webrtcbin_ice_uris ({{{"turn:t"}, "", ""}}).stun.empty ());
}

// What the fuzzer (tests/fuzz/fuzz_uris.cpp) found: a URI read back from
// what it wrote must be the same server, so what cannot be written is refused.
TEST (IceServers, WebrtcbinUriRefusesWhatItCannotWriteBack)
{
  rtcstream::IceServer s;
  EXPECT_FALSE (rtcstream::IceServer::from_webrtcbin_uri ("turn://u:p@//h:3478", s))
      << "no host";
  EXPECT_FALSE (rtcstream::IceServer::from_webrtcbin_uri (std::string ("turn://u:p\0q@h", 15), s))
      << "a NUL";
  EXPECT_FALSE (rtcstream::IceServer::from_webrtcbin_uri ("turn://u:p%00q@h", s)) << "%00";
  EXPECT_FALSE (rtcstream::IceServer::from_webrtcbin_uri ("turn://u:p%12@h", s))
      << "a control character";
  EXPECT_FALSE (rtcstream::IceServer::from_webrtcbin_uri ("stun://h 1", s)) << "a space";
  ASSERT_TRUE (rtcstream::IceServer::from_webrtcbin_uri ("turn://u:a%20b@h:3478", s));
  EXPECT_EQ (s.credential, "a b");
  EXPECT_EQ (s.webrtcbin_uris (), std::vector<std::string> { "turn://u:a%20b@h:3478" });
  // Credentials no URI can carry (from a Link header or a welcome) are left out.
  EXPECT_TRUE ((rtcstream::IceServer { { "turn:h" }, std::string ("u\0v", 3), "p" })
      .webrtcbin_uris ().empty ());
}
