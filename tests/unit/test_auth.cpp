// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Tokens without sockets (signalling/auth.cpp): the JWT reader against
// forged, expired and malformed tokens, scopes and their patterns, the
// server's credentials, origins, and the hub enforcing a peer's access.
#include <gtest/gtest.h>

#include <glib.h>

#include "auth.h"
#include "hub.h"

namespace p = rtcstream::protocol;
using namespace rtcstream::signalling;
using nlohmann::json;
using Status = JwtResult::Status;
using Verdict = Access::Verdict;

namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef-test-secret";
constexpr std::int64_t kNow = 1800000000;

std::vector<Scope>
scopes (const char *text)
{
  auto s = parse_scopes (text, nullptr);
  EXPECT_TRUE (s) << text;
  return s ? *s : std::vector<Scope> ();
}

// A JWT with any header and claims, signed with `secret`.
std::string
forge (const std::string &header, const std::string &claims, const std::string &secret = kSecret)
{
  const std::string part = base64url_encode (header) + "." + base64url_encode (claims);
  return part + "." + base64url_encode (hmac_digest (G_CHECKSUM_SHA256, secret, part));
}

TEST (Jwt, Base64urlRoundTripsAndRefusesOtherAlphabets)
{
  for (std::string data : { "", "f", "fo", "foo", "\xff\xfe\xfd\x00\x01" }) {
    const std::string enc = base64url_encode (data);
    EXPECT_EQ (enc.find_first_of ("+/="), std::string::npos) << enc;
    EXPECT_EQ (base64url_decode (enc), data);
  }
  EXPECT_FALSE (base64url_decode ("ab+c"));
  EXPECT_FALSE (base64url_decode ("abc="));
  EXPECT_FALSE (base64url_decode ("a"));
  EXPECT_FALSE (base64url_decode ("ab c"));
  // "QQ" is "A"; "QR" differs only in bits after the data: refused.
  EXPECT_EQ (base64url_decode ("QQ"), std::string ("A"));
  EXPECT_FALSE (base64url_decode ("QR"));
}

// RFC 7515 appendix A.1's HMAC key and signing input give its signature.
TEST (Jwt, HmacSha256MatchesRfc7515)
{
  const std::optional<std::string> key = base64url_decode (
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  ASSERT_TRUE (key);
  const std::string input = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAi"
      "OjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
  EXPECT_EQ (base64url_encode (hmac_digest (G_CHECKSUM_SHA256, *key, input)),
      "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
}

TEST (Jwt, MintedTokenVerifies)
{
  const std::string token = mint_jwt (scopes ("publish:cam* list"), kSecret, kNow, kNow + 60,
      kNow - 5, "studio");
  JwtResult r = verify_jwt (token, kSecret, kNow);
  ASSERT_TRUE (r.ok ()) << r.problem;
  EXPECT_EQ (scopes_text (r.claims.scopes), "publish:cam* list");
  EXPECT_EQ (r.claims.expires_s, kNow + 60);
  EXPECT_EQ (r.claims.not_before_s, kNow - 5);
  EXPECT_EQ (r.claims.subject, "studio");
}

TEST (Jwt, RefusesForgedExpiredAndMalformedTokens)
{
  const std::string good = mint_jwt (scopes ("watch:*"), kSecret, kNow, kNow + 60);
  EXPECT_EQ (verify_jwt (good, "another secret of thirty-two bytes!", kNow).status,
      Status::BadSignature);
  std::string flipped = good;
  flipped[flipped.size () - 2] = flipped[flipped.size () - 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ (verify_jwt (flipped, kSecret, kNow).status, Status::BadSignature);
  // The claims changed after signing.
  const std::size_t d1 = good.find ('.'), d2 = good.rfind ('.');
  const std::string widened = good.substr (0, d1 + 1) +
      base64url_encode (R"({"scope":"publish:* watch:* list","exp":1900000000})") +
      good.substr (d2);
  EXPECT_EQ (verify_jwt (widened, kSecret, kNow).status, Status::BadSignature);

  EXPECT_EQ (verify_jwt (good, kSecret, kNow + 60 + kClockSkewS).status, Status::Expired);
  EXPECT_TRUE (verify_jwt (good, kSecret, kNow + 60 + kClockSkewS - 1).ok ());
  const std::string later = mint_jwt (scopes ("list"), kSecret, kNow, kNow + 600, kNow + 300);
  EXPECT_EQ (verify_jwt (later, kSecret, kNow).status, Status::NotYetValid);

  // "none", other algorithms, a missing alg: refused, whatever the signature.
  const std::string claims = R"({"scope":"list","exp":1900000000})";
  const std::string none = base64url_encode (R"({"alg":"none"})") + "." +
      base64url_encode (claims) + ".";
  EXPECT_EQ (verify_jwt (none, kSecret, kNow).status, Status::WrongAlgorithm);
  for (const char *header : { R"({"alg":"HS512"})", R"({"alg":"hs256"})", R"({"typ":"JWT"})",
           R"({"alg":["HS256"]})", R"({"alg":"RS256"})" })
    EXPECT_EQ (verify_jwt (forge (header, claims), kSecret, kNow).status,
        Status::WrongAlgorithm) << header;
  EXPECT_EQ (verify_jwt (forge (R"({"alg":"HS256","crit":["b64"]})", claims), kSecret,
      kNow).status, Status::Malformed);

  // Well signed, but the claims are not what we take.
  for (const char *bad : { R"({"scope":"list"})", R"({"scope":"list","exp":"soon"})",
           R"({"scope":"list","exp":1e300})", R"({"exp":1900000000})",
           R"({"scope":["list"],"exp":1900000000})", R"({"scope":"admin","exp":1900000000})",
           R"({"scope":"list","exp":1900000000,"nbf":"x"})", R"([1,2])", "not json",
           R"({"a":{"b":{"c":{"d":{"e":1}}}},"scope":"list","exp":1900000000})" }) {
    JwtResult r = verify_jwt (forge (R"({"alg":"HS256"})", bad), kSecret, kNow);
    EXPECT_EQ (r.status, Status::Malformed) << bad;
    EXPECT_FALSE (r.problem.empty ());
  }
  for (const char *shape : { "", ".", "..", "a.b", "a.b.c.d", "!!.??.**" })
    EXPECT_EQ (verify_jwt (shape, kSecret, kNow).status, Status::Malformed) << shape;
  EXPECT_EQ (verify_jwt (std::string (kMaxTokenBytes + 1, 'a'), kSecret, kNow).status,
      Status::Malformed);
}

TEST (Scopes, PatternsMatchWholeNames)
{
  Access a;
  a.open[0] = a.open[1] = a.open[2] = false;
  a.has_token = true;
  a.scopes = scopes ("publish:cam* watch:lobby watch:*-preview");
  EXPECT_EQ (a.check (Action::Publish, "cam", kNow), Verdict::Allowed);
  EXPECT_EQ (a.check (Action::Publish, "cam-2", kNow), Verdict::Allowed);
  EXPECT_EQ (a.check (Action::Publish, "webcam", kNow), Verdict::WrongScope);
  EXPECT_EQ (a.check (Action::Publish, "lobby", kNow), Verdict::WrongScope);
  EXPECT_EQ (a.check (Action::Watch, "lobby", kNow), Verdict::Allowed);
  EXPECT_EQ (a.check (Action::Watch, "lobby2", kNow), Verdict::WrongScope);
  EXPECT_EQ (a.check (Action::Watch, "cam-preview", kNow), Verdict::Allowed);
  EXPECT_EQ (a.check (Action::Watch, std::string ("lobby\0x", 7), kNow), Verdict::WrongScope);
  EXPECT_EQ (a.check (Action::List, {}, kNow), Verdict::WrongScope);
  EXPECT_TRUE (a.may_see ("lobby", kNow));
  EXPECT_FALSE (a.may_see ("cam", kNow));
  a.expires_s = kNow - kClockSkewS;
  EXPECT_EQ (a.check (Action::Watch, "lobby", kNow), Verdict::Expired);
  EXPECT_FALSE (a.may_watch_any (kNow));

  EXPECT_FALSE (parse_scope ("publish:"));
  EXPECT_FALSE (parse_scope ("publish"));
  EXPECT_FALSE (parse_scope ("List"));
  std::string problem;
  EXPECT_FALSE (parse_scopes ("list delete:cam", &problem));
  EXPECT_NE (problem.find ("delete:cam"), std::string::npos) << problem;
}

TEST (Authorizer, NoCredentialsLeavesEverythingOpen)
{
  Authorizer auth;
  EXPECT_FALSE (auth.enabled ());
  EXPECT_TRUE (auth.internal_token ().empty ());
  auto r = auth.authenticate (std::string ("anything"), kNow);
  ASSERT_TRUE (r.ok);
  for (Action a : { Action::Publish, Action::Watch, Action::List })
    EXPECT_EQ (r.access.check (a, "cam", kNow), Verdict::Allowed);
}

// --whip-token alone closes publishing only (as before: WHEP stays open).
TEST (Authorizer, FixedTokensHaveTheirScopes)
{
  Authorizer whip_only (AuthOptions { "", "pub", "", "" });
  EXPECT_TRUE (whip_only.required (Action::Publish));
  EXPECT_FALSE (whip_only.required (Action::Watch));
  EXPECT_FALSE (whip_only.required (Action::List));
  EXPECT_EQ (whip_only.authenticate (std::nullopt, kNow).access.check (Action::Publish, "cam",
      kNow), Verdict::NoToken);

  Authorizer both (AuthOptions { "all", "pub", "", "" });
  auto all = both.authenticate (std::string ("all"), kNow);
  ASSERT_TRUE (all.ok);
  EXPECT_EQ (all.access.check (Action::Publish, "cam", kNow), Verdict::WrongScope)
      << "--whip-token overrides --token for publishing";
  EXPECT_EQ (all.access.check (Action::Watch, "cam", kNow), Verdict::Allowed);
  EXPECT_EQ (all.access.check (Action::List, {}, kNow), Verdict::Allowed);
  auto pub = both.authenticate (std::string ("pub"), kNow);
  EXPECT_EQ (pub.access.check (Action::Publish, "cam", kNow), Verdict::Allowed);
  EXPECT_EQ (pub.access.check (Action::Watch, "cam", kNow), Verdict::WrongScope);
  auto wrong = both.authenticate (std::string ("pu"), kNow);
  EXPECT_FALSE (wrong.ok);
  EXPECT_EQ (wrong.problem.find ("pu"), std::string::npos) << "never echo a token";

  auto own = both.authenticate (both.internal_token (), kNow);
  ASSERT_TRUE (own.ok);
  EXPECT_EQ (own.access.check (Action::Publish, "x", kNow), Verdict::Allowed);
  EXPECT_GE (both.internal_token ().size (), 32u);
}

TEST (Authorizer, SignedTokens)
{
  Authorizer auth (AuthOptions { "", "", "", kSecret });
  const std::int64_t now = g_get_real_time () / G_USEC_PER_SEC;
  auto r = auth.authenticate (mint_jwt (scopes ("watch:cam"), kSecret, now, now + 60), now);
  ASSERT_TRUE (r.ok) << r.problem;
  EXPECT_EQ (r.access.check (Action::Watch, "cam", now), Verdict::Allowed);
  EXPECT_EQ (r.access.check (Action::Publish, "cam", now), Verdict::WrongScope);
  EXPECT_EQ (r.access.check (Action::Watch, "cam", now + 3600), Verdict::Expired)
      << "expiry is checked at each use, not only at connection";
  auto old = auth.authenticate (mint_jwt (scopes ("watch:cam"), kSecret, now - 7200,
      now - 3600), now);
  EXPECT_FALSE (old.ok);
  EXPECT_NE (old.problem.find ("expired"), std::string::npos) << old.problem;
  EXPECT_FALSE (auth.authenticate (std::string (""), now).ok);
}

TEST (Origins, SameOriginLoopbackAndListed)
{
  OriginPolicy dflt;
  EXPECT_TRUE (dflt.allows (nullptr, "example.net:8443"));
  EXPECT_TRUE (dflt.allows ("https://example.net:8443", "example.net:8443"));
  EXPECT_TRUE (dflt.allows ("http://localhost:3000", "example.net:8443"));
  EXPECT_TRUE (dflt.allows ("http://127.0.0.1:3000", "example.net:8443"));
  EXPECT_TRUE (dflt.allows ("http://[::1]:3000", "example.net:8443"));
  EXPECT_FALSE (dflt.allows ("https://evil.example", "example.net:8443"));
  EXPECT_FALSE (dflt.allows ("http://127.0.0.1.evil.example", "example.net:8443"));
  EXPECT_FALSE (dflt.allows ("null", "example.net:8443"));

  OriginPolicy listed { { "https://app.example.net/" } };
  EXPECT_TRUE (listed.allows ("https://APP.example.net", "example.net:8443"));
  EXPECT_TRUE (listed.allows ("http://example.net:8443", "example.net:8443"));
  EXPECT_FALSE (listed.allows ("http://localhost:3000", "example.net:8443"));
  EXPECT_TRUE (OriginPolicy { { "*" } }.allows ("https://evil.example", "x"));
}

// The hub enforces what each peer's token allows.
class HubAccess : public ::testing::Test {
protected:
  std::string join (const char *scope_text)
  {
    Access a;
    a.open[0] = a.open[1] = a.open[2] = false;
    if (scope_text) {
      a.has_token = true;
      a.scopes = scopes (scope_text);
    }
    Hub::Admission adm = hub.add_peer (a);
    EXPECT_TRUE (adm.accepted ());
    return adm.peer_id;
  }

  std::vector<json> send (const std::string &from, const json &msg)
  {
    std::vector<json> out;
    for (const Outgoing &o : hub.handle (from, msg.dump ())) {
      json j = json::parse (o.text);
      j["to"] = o.peer_id;
      out.push_back (j);
    }
    return out;
  }

  std::vector<json> publish (const std::string &id, const std::string &name)
  {
    return send (id, { { "type", "setPeerStatus" }, { "roles", { "producer", "listener" } },
        { "meta", { { "name", name } } } });
  }

  static std::string code (const std::vector<json> &out)
  {
    return out.size () == 1 && out[0]["type"] == "error" ? out[0].value ("code", "") : "";
  }

  Hub hub;
};

TEST_F (HubAccess, PublishWatchAndListNeedTheirScopes)
{
  EXPECT_EQ (code (publish (join (nullptr), "cam")), "unauthorized");
  EXPECT_EQ (code (publish (join ("publish:other watch:*"), "cam")), "forbidden");
  EXPECT_FALSE (hub.has_stream ("cam"));
  const std::string prod = join ("publish:cam*");
  auto ok = publish (prod, "cam1");
  ASSERT_EQ (ok.size (), 1u);
  EXPECT_EQ (ok[0]["type"], "peerStatusChanged") << "the producer sees itself";
  const std::string other = join ("publish:*");
  publish (other, "lobby");

  // A viewer of cam* lists and hears of cam1 only; a list token sees all.
  const std::string viewer = join ("watch:cam*");
  auto listed = send (viewer, { { "type", "list" } });
  ASSERT_EQ (listed.size (), 1u);
  ASSERT_EQ (listed[0]["producers"].size (), 1u);
  EXPECT_EQ (listed[0]["producers"][0]["meta"]["name"], "cam1");
  const std::string lister = join ("list");
  EXPECT_EQ (send (lister, { { "type", "list" } })[0]["producers"].size (), 2u);
  EXPECT_EQ (code (send (join ("publish:*"), { { "type", "list" } })), "forbidden");
  EXPECT_EQ (code (send (join (nullptr), { { "type", "list" } })), "unauthorized");
  EXPECT_EQ (code (send (viewer, { { "type", "listConsumers" } })), "forbidden");

  send (viewer, { { "type", "setPeerStatus" }, { "roles", { "listener" } } });
  send (lister, { { "type", "setPeerStatus" }, { "roles", { "listener" } } });
  auto told = publish (join ("publish:*"), "secret-room");
  for (const json &m : told)
    EXPECT_NE (m["to"], viewer) << "a viewer of cam* hears nothing of secret-room";
  bool lister_told = false;
  for (const json &m : told)
    lister_told |= m["to"] == lister;
  EXPECT_TRUE (lister_told);

  // A producer that stops producing is seen going by those that saw it.
  const std::string cam2 = join ("publish:cam*");
  publish (cam2, "cam2");
  auto stopped = send (cam2, { { "type", "setPeerStatus" }, { "roles", { "listener" } } });
  bool viewer_told = false;
  for (const json &m : stopped)
    viewer_told |= m["to"] == viewer && m["type"] == "peerStatusChanged";
  EXPECT_TRUE (viewer_told) << "a viewer of cam* hears that cam2 stopped";

  // Watching: the right stream only.
  auto started = send (viewer, { { "type", "startSession" }, { "peerId", prod } });
  ASSERT_EQ (started.size (), 2u);
  EXPECT_EQ (code (send (viewer, { { "type", "startSession" }, { "peerId", other } })),
      "forbidden");
  EXPECT_EQ (code (send (join (nullptr), { { "type", "startSession" }, { "peerId", prod } })),
      "unauthorized");
  EXPECT_EQ (code (send (join ("watch:cam*"), { { "type", "resumeSession" },
      { "sessionId", "0f5e2c1a-3b4d-4e6f-8a9b-1c2d3e4f5a6b" }, { "as", "consumer" } })), "");
  EXPECT_EQ (code (send (join ("publish:*"), { { "type", "resumeSession" },
      { "sessionId", "1f5e2c1a-3b4d-4e6f-8a9b-1c2d3e4f5a6b" }, { "as", "consumer" } })),
      "forbidden") << "resuming as a consumer needs a watch scope";
}

// Rooms: joining is publishing ROOM:PARTICIPANT; a participant hears of the
// others whose streams it may watch.
TEST_F (HubAccess, RoomsFollowPublishAndWatchScopes)
{
  const auto enter = [&] (const std::string &id, const std::string &who) {
    return send (id, { { "type", "setPeerStatus" }, { "roles", { "producer" } },
        { "meta", { { "name", "meet:" + who }, { "room", "meet" } } } });
  };
  EXPECT_EQ (code (enter (join ("publish:other:* watch:*"), "x")), "forbidden");
  EXPECT_EQ (hub.room_size ("meet"), 0u);
  const std::string alice = join ("publish:meet:* watch:meet:*");
  enter (alice, "alice");
  // A participant that may watch only alice: sees alice; alice sees it.
  const std::string bob = join ("publish:meet:bob watch:meet:alice");
  auto out = enter (bob, "bob");
  ASSERT_EQ (out.size (), 2u);
  for (const json &m : out) {
    if (m["to"] == bob) {
      EXPECT_EQ (m["type"], "roomJoined");
      EXPECT_EQ (m["participants"].size (), 1u);
    } else {
      EXPECT_EQ (m["to"], alice);
      EXPECT_EQ (m["type"], "participantJoined");
    }
  }
  // carol, whom bob may not watch: bob is not told she came, nor does carol see bob.
  const std::string carol = join ("publish:meet:carol watch:meet:alice");
  out = enter (carol, "carol");
  for (const json &m : out) {
    EXPECT_NE (m["to"], bob);
    if (m["to"] == carol) {
      ASSERT_EQ (m["participants"].size (), 1u);
      EXPECT_EQ (m["participants"][0]["meta"]["name"], "meet:alice");
    }
  }
  // bob cannot start a session with carol (the usual watch check).
  EXPECT_EQ (code (send (bob, { { "type", "startSession" }, { "peerId", carol } })), "forbidden");
}

}  // namespace
