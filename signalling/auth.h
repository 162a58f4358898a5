// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Who may do what on rtcstream-signalling: bearer tokens and their scopes,
// for the websocket protocol and the WHIP/WHEP endpoints alike.
//
// A token is either a fixed secret given on the command line (--token,
// --whip-token, --whep-token) or a signed, expiring JWT (HS256, signed with
// the secret of --token-secret-file) whose "scope" claim lists what it
// allows. A scope is "publish:PATTERN", "watch:PATTERN" or "list"; a
// PATTERN is a stream name where "*" stands for any run of characters and
// "?" for one. An action no configured credential could ever allow stays open
// to everyone, so a server without tokens is open as before, and one with
// only --whip-token keeps WHEP and the listing open.
//
// Pure GLib code (GHmac, no sockets), unit tested and fuzzed alone
// (tests/unit/test_auth.cpp, tests/fuzz/fuzz_jwt.cpp). docs/auth.md is the
// user's reference.
#pragma once

#include <glib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rtcstream::signalling {

// HMAC of `data` with `key` (raw digest bytes): HMAC-SHA1 for TURN REST
// credentials, HMAC-SHA256 for JWTs.
std::string hmac_digest (GChecksumType type, std::string_view key, std::string_view data);

// Compares two secrets in time independent of where they differ.
bool same_secret (std::string_view a, std::string_view b);

enum class Action { Publish, Watch, List };
const char *action_name (Action action);

struct Scope {
  Action action = Action::List;
  std::string pattern;  // the stream names (glob); empty for list
};

// "publish:cam*", "watch:*", "list": nothing when it is none of these.
std::optional<Scope> parse_scope (std::string_view text);
// A space-separated list of scopes (the JWT "scope" claim, the --mint-token
// argument); nothing when one of them is invalid (`problem` says which).
std::optional<std::vector<Scope>> parse_scopes (std::string_view text, std::string *problem);
std::string scopes_text (const std::vector<Scope> &scopes);

// What one connection or one HTTP request may do: its token's scopes and
// expiry, and the actions the server leaves open.
struct Access {
  enum class Verdict {
    Allowed,
    NoToken,     // the action needs a token and none was given
    Expired,     // the token expired since it was checked
    WrongScope,  // the token does not allow this action on this name
  };

  bool open[3] = { true, true, true };  // by Action: needs no token
  bool has_token = false;
  std::vector<Scope> scopes;
  std::int64_t expires_s = 0;           // Unix time; 0: never

  // Whether `action` on the stream `name` is allowed at `now_s` (Unix
  // time). For list, `name` is ignored.
  Verdict check (Action action, std::string_view name, std::int64_t now_s) const;
  // Whether a listing may show the producer `name`: with list, any; else
  // the ones it may watch.
  bool may_see (std::string_view name, std::int64_t now_s) const;
  // Whether it may watch some stream at all (list replies, passive roles).
  bool may_watch_any (std::int64_t now_s) const;
  // A sentence for the client, saying what is missing.
  static std::string explain (Verdict verdict, Action action, std::string_view name);
};

// The claims rtcstream reads from a JWT.
struct TokenClaims {
  std::vector<Scope> scopes;
  std::int64_t expires_s = 0;      // "exp", required
  std::int64_t not_before_s = 0;   // "nbf", optional (0: none)
  std::string subject;             // "sub", optional, for logs (log_safe it)
};

struct JwtResult {
  enum class Status { Ok, Malformed, WrongAlgorithm, BadSignature, Expired, NotYetValid };
  Status status = Status::Malformed;
  std::string problem;   // for the client and the log; never contains the token
  TokenClaims claims;
  bool ok () const { return status == Status::Ok; }
};

// Longest token accepted, in bytes.
constexpr std::size_t kMaxTokenBytes = 4096;
// Clock skew tolerated on exp and nbf, in seconds.
constexpr std::int64_t kClockSkewS = 30;
// Shortest HS256 secret accepted, in bytes (RFC 7518 3.2: at least the hash size).
constexpr std::size_t kMinSecretBytes = 32;

// Checks a compact JWT: three base64url parts, a header whose "alg" is
// exactly "HS256" (never "none"), a valid HMAC-SHA256 signature with
// `secret`, "exp" in the future and "nbf" (if any) in the past at `now_s`,
// and a valid "scope" claim.
JwtResult verify_jwt (std::string_view token, std::string_view secret, std::int64_t now_s);

// A JWT with `scopes`, valid from `not_before_s` (0: no nbf) until
// `expires_s`, signed with `secret`; `subject` is put in "sub" when not empty.
std::string mint_jwt (const std::vector<Scope> &scopes, std::string_view secret,
    std::int64_t issued_s, std::int64_t expires_s, std::int64_t not_before_s = 0,
    std::string_view subject = {});

// base64url without padding (RFC 7515 2), and back (nothing when `text` has
// any character outside the alphabet, padding, or non-zero bits after the
// data in its last character: one spelling per value).
std::string base64url_encode (std::string_view data);
std::optional<std::string> base64url_decode (std::string_view text);

// The server's credentials.
struct AuthOptions {
  std::string token;        // --token: publish, watch and list
  std::string whip_token;   // --whip-token: publish (instead of --token)
  std::string whep_token;   // --whep-token: watch (instead of --token)
  std::string jwt_secret;   // --token-secret-file: JWTs with any scopes
};

class Authorizer {
public:
  Authorizer () = default;
  explicit Authorizer (AuthOptions options);

  // Whether any credential is configured (otherwise everything is open).
  bool enabled () const;
  // Whether `action` needs a token.
  bool required (Action action) const { return !open_[static_cast<int> (action)]; }
  // A fixed token granting everything, for the server's own WHIP/WHEP
  // pipelines (which connect to the websocket like any peer); empty when
  // nothing needs a token.
  const std::string &internal_token () const { return internal_; }

  struct Result {
    bool ok = false;
    Access access;
    std::string problem;   // when !ok: why the token was refused (for the client)
    std::string who;       // when ok and known: the JWT's subject, log-safe
  };
  // What a request or connection presenting `token` (nothing: none) may do
  // at `now_s`. A token given to a server without credentials is ignored.
  Result authenticate (std::optional<std::string_view> token, std::int64_t now_s) const;

private:
  struct Fixed {
    std::string secret;
    std::vector<Scope> scopes;
  };
  std::vector<Fixed> fixed_;
  std::string jwt_secret_;
  std::string internal_;
  bool open_[3] = { true, true, true };
};

// Which web pages may use the server from a browser, by the Origin header of
// websocket upgrades and WHIP/WHEP requests (--allowed-origin).
struct OriginPolicy {
  std::vector<std::string> allowed;  // exact origins ("https://app.example.net"); "*": any

  // Whether a request from `origin` (nullptr: no Origin header, so not a
  // browser's cross-origin request) to `host` (its Host header) is allowed:
  // no origin, the same origin as the server, a listed one, or, when none is
  // listed, a page on a loopback address (localhost, 127.0.0.0/8, ::1).
  bool allows (const char *origin, const char *host) const;
};

// The token of "Authorization: Bearer TOKEN" (scheme case-insensitive), if
// the header has that form.
std::optional<std::string> bearer_token (const char *authorization);

// Reads a secret from a file: its contents without a final newline, at
// least min_bytes long (an HS256 secret: kMinSecretBytes; a fixed token,
// kept out of the process list: 1).
std::optional<std::string> read_secret_file (const std::string &path, GError **error,
    std::size_t min_bytes = kMinSecretBytes);

}  // namespace rtcstream::signalling
