// SPDX-License-Identifier: LGPL-2.1-or-later
//
// turn-servers entries: what parses, what is refused and how a server is
// named in messages (never with its password).
#include <gtest/gtest.h>

#include "rtcstream/turn.h"
#include "rtcstream/uri.h"

using rtcstream::TurnServer;
using rtcstream::check_turn_uris;
using rtcstream::parse_turn_uri;
using rtcstream::turn_display_name;

namespace {

TEST (TurnUri, PlainAndEscapedCredentials)
{
  TurnServer t;
  std::string error;
  ASSERT_TRUE (parse_turn_uri ("turn://alice:secret@turn.example.org:3478", t, error)) << error;
  EXPECT_FALSE (t.tls);
  EXPECT_EQ (t.user, "alice");
  EXPECT_EQ (t.host, "turn.example.org");
  EXPECT_EQ (t.port, 3478u);
  EXPECT_EQ (t.transport, "");

  ASSERT_TRUE (parse_turn_uri ("turn://a%3Ab:p%40ss%3Aw%2Frd%251@127.0.0.1:3479", t, error))
      << error;
  EXPECT_EQ (t.user, "a:b");
  EXPECT_EQ (turn_display_name (t), "turn://a:b@127.0.0.1:3479");
}

TEST (TurnUri, DefaultPortsTlsAndTransport)
{
  TurnServer t;
  std::string error;
  ASSERT_TRUE (parse_turn_uri ("turns://u:p@relay.example.org", t, error)) << error;
  EXPECT_TRUE (t.tls);
  EXPECT_EQ (t.port, 5349u);
  ASSERT_TRUE (parse_turn_uri ("turn://u:p@relay.example.org?transport=tcp", t, error)) << error;
  EXPECT_EQ (t.port, 3478u);
  EXPECT_EQ (t.transport, "tcp");
  EXPECT_EQ (turn_display_name (t), "turn://u@relay.example.org:3478?transport=tcp");
  ASSERT_TRUE (parse_turn_uri ("turn://u:p@[::1]:3478", t, error)) << error;
  EXPECT_EQ (turn_display_name (t), "turn://u@[::1]:3478");
}

TEST (TurnUri, MistakesAreNamedWithoutThePassword)
{
  struct Case {
    const char *uri;
    const char *says;
  } cases[] = {
    {"stun://u:hidden@host:3478", "must start with turn:// or turns://"},
    {"turn://host:3478", "has no USER:PASSWORD@ part"},
    {"turn://u@host:3478", "needs both a user and a password"},
    {"turn://u:@host:3478", "needs both a user and a password"},
    {"turn://u:hid@den@host:3478", "'@' in its user or password that is not %-escaped"},
    {"turn://u:hid/den@host:3478", "'/', '?' or '#' in its user or password"},
    {"turn://u:hidden%zz@host:3478", "is not a valid URI"},
    {"turn://u:hidden@host:99999", "is not a valid URI"},
    {"turn://u:hidden@host:3478/path", "has a path"},
    {"turn://u:hidden@host:3478?transport=sctp", "has transport 'sctp'"},
    {"turn://u:hidden@host:3478?foo=bar", "unsupported query"},
  };
  for (const Case &c : cases) {
    TurnServer t;
    std::string error;
    EXPECT_FALSE (parse_turn_uri (c.uri, t, error)) << c.uri;
    EXPECT_NE (error.find (c.says), std::string::npos) << c.uri << ": " << error;
    EXPECT_EQ (error.find ("hidden"), std::string::npos) << c.uri << ": " << error;
    EXPECT_EQ (error.find ("den@"), std::string::npos) << c.uri << ": " << error;
  }
}

TEST (TurnUri, ListCheckNamesTheEntry)
{
  std::string error;
  EXPECT_TRUE (check_turn_uris ({}, error));
  EXPECT_TRUE (check_turn_uris ({"turn://a:b@h:1", "turns://c:d@h"}, error)) << error;
  EXPECT_FALSE (check_turn_uris ({"turn://a:b@h:1", "turn://h:2"}, error));
  EXPECT_EQ (error.rfind ("turn-servers entry 2 is invalid: ", 0), 0u) << error;
}

TEST (TurnUri, DisplayNameOfAnUnparsableEntryHidesTheCredentials)
{
  EXPECT_EQ (turn_display_name ("turn://u:se@cret@host:3478"), "turn://***@host:3478");
  EXPECT_EQ (turn_display_name ("turn://u:secret@host:3478"), "turn://u@host:3478");
}

}  // namespace

// Stream URIs (rtcstream/uri.h) decode the stream name exactly once: a
// name containing "%" arrives as "%25", and "%252e%252e" is "%2e%2e".
TEST (StreamUri, NameIsDecodedOnce)
{
  rtcstream::StreamUri u;
  std::string error;
  ASSERT_TRUE (rtcstream::parse_stream_uri ("rtcstream://127.0.0.1:8443/%252e%252e", u, error))
      << error;
  EXPECT_EQ (u.stream, "%2e%2e");
  ASSERT_TRUE (rtcstream::parse_stream_uri ("rtcstream://127.0.0.1:8443/a%20b", u, error));
  EXPECT_EQ (u.stream, "a b");
  ASSERT_TRUE (rtcstream::parse_stream_uri ("whip+http://127.0.0.1:8080/whip/x%2541", u, error));
  EXPECT_EQ (u.stream, "x%41");
  EXPECT_FALSE (rtcstream::parse_stream_uri ("rtcstream://127.0.0.1:8443/a%2Fb", u, error));
}
