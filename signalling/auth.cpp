// SPDX-License-Identifier: LGPL-2.1-or-later
#include "auth.h"

#include <sys/random.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include <nlohmann/json.hpp>

#include "hub.h"  // log_safe
#include "rtcstream/protocol.h"

namespace rtcstream::signalling {

namespace {

using nlohmann::json;

// JWT headers and claims are flat: anything deeper is refused unparsed.
constexpr std::size_t kMaxJwtJsonDepth = 4;

// Whether `name` matches `pattern`, where "*" stands for any run of bytes
// (names are UTF-8, so a run of whole characters). Iterative, no recursion.
bool
glob_match (std::string_view pattern, std::string_view name)
{
  std::size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
  while (n < name.size ()) {
    if (p < pattern.size () && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.size () && pattern[p] == name[n]) {
      p++;
      n++;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size () && pattern[p] == '*')
    p++;
  return p == pattern.size ();
}

std::optional<json>
decode_json_part (std::string_view part)
{
  std::optional<std::string> text = base64url_decode (part);
  if (!text || protocol::nesting_depth (*text, kMaxJwtJsonDepth) > kMaxJwtJsonDepth)
    return std::nullopt;
  json value = json::parse (*text, nullptr, false);
  if (value.is_discarded () || !value.is_object ())
    return std::nullopt;
  return value;
}

// A NumericDate claim (seconds since the epoch) that fits comfortably.
std::optional<std::int64_t>
numeric_date (const json &value)
{
  constexpr double kMax = 1e15;
  if (value.is_number_integer () || value.is_number_unsigned ()) {
    if (value.is_number_unsigned () && value.get<std::uint64_t> () > static_cast<std::uint64_t> (kMax))
      return std::nullopt;
    const std::int64_t v = value.get<std::int64_t> ();
    if (v < -static_cast<std::int64_t> (kMax) || v > static_cast<std::int64_t> (kMax))
      return std::nullopt;
    return v;
  }
  if (value.is_number_float ()) {
    const double v = value.get<double> ();
    if (!std::isfinite (v) || v < -kMax || v > kMax)
      return std::nullopt;
    return static_cast<std::int64_t> (v);
  }
  return std::nullopt;
}

JwtResult
refused (JwtResult::Status status, std::string problem)
{
  JwtResult r;
  r.status = status;
  r.problem = std::move (problem);
  return r;
}

std::string
random_secret ()
{
  unsigned char bytes[32];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = getrandom (bytes + got, sizeof bytes - got, 0);
    if (n > 0)
      got += static_cast<std::size_t> (n);
  }
  return base64url_encode (std::string_view (reinterpret_cast<char *> (bytes), sizeof bytes));
}

std::string
quoted_name (std::string_view name)
{
  return "\"" + log_safe (name, 128) + "\"";
}

}  // namespace

std::string
hmac_digest (GChecksumType type, std::string_view key, std::string_view data)
{
  GHmac *hmac = g_hmac_new (type, reinterpret_cast<const guchar *> (key.data ()), key.size ());
  g_hmac_update (hmac, reinterpret_cast<const guchar *> (data.data ()),
      static_cast<gssize> (data.size ()));
  guint8 digest[64];
  gsize len = sizeof digest;
  g_hmac_get_digest (hmac, digest, &len);
  g_hmac_unref (hmac);
  return std::string (reinterpret_cast<const char *> (digest), len);
}

bool
same_secret (std::string_view a, std::string_view b)
{
  if (a.size () != b.size ())
    return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size (); i++)
    diff |= static_cast<unsigned char> (a[i] ^ b[i]);
  return diff == 0;
}

const char *
action_name (Action action)
{
  switch (action) {
    case Action::Publish:
      return "publish";
    case Action::Watch:
      return "watch";
    case Action::List:
      return "list";
  }
  return "list";
}

std::optional<Scope>
parse_scope (std::string_view text)
{
  if (text == "list")
    return Scope { Action::List, {} };
  for (Action a : { Action::Publish, Action::Watch }) {
    const std::string prefix = std::string (action_name (a)) + ":";
    if (text.size () > prefix.size () && text.substr (0, prefix.size ()) == prefix)
      return Scope { a, std::string (text.substr (prefix.size ())) };
  }
  return std::nullopt;
}

std::optional<std::vector<Scope>>
parse_scopes (std::string_view text, std::string *problem)
{
  std::vector<Scope> scopes;
  std::size_t start = 0;
  while (start < text.size ()) {
    std::size_t end = text.find (' ', start);
    if (end == std::string_view::npos)
      end = text.size ();
    const std::string_view word = text.substr (start, end - start);
    if (!word.empty ()) {
      std::optional<Scope> scope = parse_scope (word);
      if (!scope) {
        if (problem)
          *problem = "\"" + log_safe (word, 64) + "\" is not a scope (publish:NAME, "
              "watch:NAME, or list; NAME may use * for any characters)";
        return std::nullopt;
      }
      scopes.push_back (std::move (*scope));
    }
    start = end + 1;
  }
  return scopes;
}

std::string
scopes_text (const std::vector<Scope> &scopes)
{
  std::string out;
  for (const Scope &s : scopes) {
    if (!out.empty ())
      out += ' ';
    out += action_name (s.action);
    if (s.action != Action::List)
      out += ":" + s.pattern;
  }
  return out;
}

Access::Verdict
Access::check (Action action, std::string_view name, std::int64_t now_s) const
{
  if (open[static_cast<int> (action)])
    return Verdict::Allowed;
  if (!has_token)
    return Verdict::NoToken;
  if (expires_s && now_s >= expires_s + kClockSkewS)
    return Verdict::Expired;
  for (const Scope &s : scopes) {
    if (s.action == action && (action == Action::List || glob_match (s.pattern, name)))
      return Verdict::Allowed;
  }
  return Verdict::WrongScope;
}

bool
Access::may_see (std::string_view name, std::int64_t now_s) const
{
  return check (Action::List, {}, now_s) == Verdict::Allowed ||
      check (Action::Watch, name, now_s) == Verdict::Allowed;
}

bool
Access::may_watch_any (std::int64_t now_s) const
{
  if (open[static_cast<int> (Action::Watch)])
    return true;
  if (!has_token || (expires_s && now_s >= expires_s + kClockSkewS))
    return false;
  for (const Scope &s : scopes) {
    if (s.action == Action::Watch)
      return true;
  }
  return false;
}

std::string
Access::explain (Verdict verdict, Action action, std::string_view name)
{
  const std::string what = action == Action::List ? std::string ("listing the streams")
      : std::string (action == Action::Publish ? "publishing" : "watching") + " the stream " +
        quoted_name (name);
  const std::string scope = action == Action::List ? std::string ("list")
      : std::string (action_name (action)) + ":" + log_safe (name, 128);
  switch (verdict) {
    case Verdict::Allowed:
      return {};
    case Verdict::NoToken:
      return "This server needs a token for " + what + ": send one (\"Authorization: "
          "Bearer TOKEN\", or ?token=TOKEN on the websocket URL).";
    case Verdict::Expired:
      return "The token has expired: get a new one for " + what + ".";
    case Verdict::WrongScope:
      return "The token does not allow " + what + ": that needs the scope " + scope +
          (action == Action::List ? "" : " (or a pattern matching it)") + ".";
  }
  return {};
}

std::string
base64url_encode (std::string_view data)
{
  g_autofree char *b64 = g_base64_encode (reinterpret_cast<const guchar *> (data.data ()),
      data.size ());
  std::string out;
  for (const char *c = b64; *c; c++) {
    if (*c == '=')
      break;
    out += *c == '+' ? '-' : *c == '/' ? '_' : *c;
  }
  return out;
}

std::optional<std::string>
base64url_decode (std::string_view text)
{
  if (text.size () % 4 == 1)
    return std::nullopt;
  std::string std64;
  std64.reserve (text.size () + 3);
  for (char c : text) {
    if (g_ascii_isalnum (c))
      std64 += c;
    else if (c == '-')
      std64 += '+';
    else if (c == '_')
      std64 += '/';
    else
      return std::nullopt;
  }
  while (std64.size () % 4)
    std64 += '=';
  if (std64.empty ())
    return std::string ();
  gsize len = 0;
  g_autofree guchar *raw = g_base64_decode (std64.c_str (), &len);
  std::string data (reinterpret_cast<const char *> (raw), len);
  // Only the canonical spelling: the bits a last character carries beyond
  // the data must be 0, or two token strings (e.g. ending in A and in B)
  // would carry one signature.
  if (base64url_encode (data) != text)
    return std::nullopt;
  return data;
}

JwtResult
verify_jwt (std::string_view token, std::string_view secret, std::int64_t now_s)
{
  using S = JwtResult::Status;
  if (token.size () > kMaxTokenBytes)
    return refused (S::Malformed, "The token is longer than " +
        std::to_string (kMaxTokenBytes) + " bytes.");
  const std::size_t dot1 = token.find ('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find ('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find ('.', dot2 + 1) != std::string_view::npos)
    return refused (S::Malformed, "The token is not a JWT (three base64url parts "
        "separated by dots).");
  const std::string_view signed_part = token.substr (0, dot2);
  std::optional<json> header = decode_json_part (token.substr (0, dot1));
  if (!header)
    return refused (S::Malformed, "The token's header is not a base64url JSON object.");
  auto alg = header->find ("alg");
  if (alg == header->end () || !alg->is_string () || alg->get<std::string> () != "HS256")
    return refused (S::WrongAlgorithm, "The token is not signed with HS256 (its \"alg\" "
        "must be \"HS256\"; \"none\" and other algorithms are refused).");
  if (header->contains ("crit"))
    return refused (S::Malformed, "The token's header has \"crit\" extensions, which this "
        "server does not understand.");
  std::optional<std::string> signature = base64url_decode (token.substr (dot2 + 1));
  const std::string expected = hmac_digest (G_CHECKSUM_SHA256, secret, signed_part);
  if (!signature || !same_secret (*signature, expected))
    return refused (S::BadSignature, "The token's signature is wrong (it was not signed "
        "with this server's --token-secret-file, or was changed).");

  std::optional<json> payload = decode_json_part (token.substr (dot1 + 1, dot2 - dot1 - 1));
  if (!payload)
    return refused (S::Malformed, "The token's claims are not a base64url JSON object.");
  JwtResult r;
  auto exp = payload->find ("exp");
  std::optional<std::int64_t> expires = exp == payload->end () ? std::nullopt
      : numeric_date (*exp);
  if (!expires)
    return refused (S::Malformed, "The token has no valid \"exp\" (expiry) claim; "
        "this server takes only expiring tokens.");
  r.claims.expires_s = *expires;
  if (auto nbf = payload->find ("nbf"); nbf != payload->end ()) {
    std::optional<std::int64_t> not_before = numeric_date (*nbf);
    if (!not_before)
      return refused (S::Malformed, "The token's \"nbf\" claim is not a number.");
    r.claims.not_before_s = *not_before;
  }
  auto scope = payload->find ("scope");
  if (scope == payload->end () || !scope->is_string ())
    return refused (S::Malformed, "The token has no \"scope\" claim (a string such as "
        "\"publish:cam watch:* list\").");
  std::string problem;
  std::optional<std::vector<Scope>> scopes = parse_scopes (scope->get<std::string> (),
      &problem);
  if (!scopes)
    return refused (S::Malformed, "The token's scope claim is invalid: " + problem + ".");
  r.claims.scopes = std::move (*scopes);
  if (auto sub = payload->find ("sub"); sub != payload->end () && sub->is_string ())
    r.claims.subject = sub->get<std::string> ();
  if (now_s >= r.claims.expires_s + kClockSkewS)
    return refused (S::Expired, "The token has expired.");
  if (r.claims.not_before_s && now_s + kClockSkewS < r.claims.not_before_s)
    return refused (S::NotYetValid, "The token is not valid yet (its \"nbf\" is in the "
        "future).");
  r.status = S::Ok;
  return r;
}

std::string
mint_jwt (const std::vector<Scope> &scopes, std::string_view secret, std::int64_t issued_s,
    std::int64_t expires_s, std::int64_t not_before_s, std::string_view subject)
{
  nlohmann::ordered_json claims;
  if (!subject.empty ())
    claims["sub"] = std::string (subject);
  claims["scope"] = scopes_text (scopes);
  claims["iat"] = issued_s;
  if (not_before_s)
    claims["nbf"] = not_before_s;
  claims["exp"] = expires_s;
  const std::string head = base64url_encode (R"({"alg":"HS256","typ":"JWT"})");
  const std::string body = base64url_encode (claims.dump ());
  const std::string signed_part = head + "." + body;
  return signed_part + "." + base64url_encode (hmac_digest (G_CHECKSUM_SHA256, secret,
      signed_part));
}

Authorizer::Authorizer (AuthOptions o)
{
  const Scope list { Action::List, {} };
  const Scope publish_all { Action::Publish, "*" };
  const Scope watch_all { Action::Watch, "*" };
  if (!o.token.empty ()) {
    Fixed f { o.token, { list } };
    if (o.whip_token.empty ())
      f.scopes.push_back (publish_all);
    if (o.whep_token.empty ())
      f.scopes.push_back (watch_all);
    fixed_.push_back (std::move (f));
  }
  if (!o.whip_token.empty ())
    fixed_.push_back (Fixed { o.whip_token, { publish_all } });
  if (!o.whep_token.empty ())
    fixed_.push_back (Fixed { o.whep_token, { watch_all } });
  jwt_secret_ = std::move (o.jwt_secret);
  const bool any = !o.token.empty () || !jwt_secret_.empty ();
  open_[static_cast<int> (Action::Publish)] = !any && o.whip_token.empty ();
  open_[static_cast<int> (Action::Watch)] = !any && o.whep_token.empty ();
  open_[static_cast<int> (Action::List)] = !any;
  if (enabled ()) {
    internal_ = random_secret ();
    fixed_.push_back (Fixed { internal_, { list, publish_all, watch_all } });
  }
}

bool
Authorizer::enabled () const
{
  return !open_[0] || !open_[1] || !open_[2];
}

Authorizer::Result
Authorizer::authenticate (std::optional<std::string_view> token, std::int64_t now_s) const
{
  Result r;
  std::copy (std::begin (open_), std::end (open_), std::begin (r.access.open));
  if (!enabled () || !token) {
    r.ok = true;
    return r;
  }
  if (token->empty () || token->size () > kMaxTokenBytes) {
    r.problem = token->empty () ? "The token is empty." : "The token is longer than " +
        std::to_string (kMaxTokenBytes) + " bytes.";
    return r;
  }
  // Every fixed token is compared, so the time taken says nothing of which.
  const Fixed *match = nullptr;
  for (const Fixed &f : fixed_) {
    if (same_secret (*token, f.secret))
      match = &f;
  }
  if (match) {
    r.ok = true;
    r.access.has_token = true;
    r.access.scopes = match->scopes;
    return r;
  }
  if (jwt_secret_.empty () || std::count (token->begin (), token->end (), '.') != 2) {
    r.problem = "The bearer token is wrong.";
    return r;
  }
  JwtResult jwt = verify_jwt (*token, jwt_secret_, now_s);
  if (!jwt.ok ()) {
    r.problem = jwt.problem;
    return r;
  }
  r.ok = true;
  r.access.has_token = true;
  r.access.scopes = std::move (jwt.claims.scopes);
  r.access.expires_s = jwt.claims.expires_s;
  r.who = log_safe (jwt.claims.subject, 64);
  return r;
}

bool
OriginPolicy::allows (const char *origin, const char *host) const
{
  if (!origin)
    return true;
  g_autofree char *lower = g_ascii_strdown (origin, -1);
  std::string o = lower;
  while (!o.empty () && o.back () == '/')
    o.pop_back ();
  for (const std::string &a : allowed) {
    g_autofree char *listed = g_ascii_strdown (a.c_str (), -1);
    std::string l = listed;
    while (!l.empty () && l.back () == '/')
      l.pop_back ();
    if (l == "*" || l == o)
      return true;
  }
  const std::size_t sep = o.find ("://");
  if (sep == std::string::npos)
    return false;  // "null" (a file or sandboxed page), or garbage
  const std::string authority = o.substr (sep + 3);
  if (host && g_ascii_strcasecmp (authority.c_str (), host) == 0)
    return true;
  if (!allowed.empty ())
    return false;
  // The host of the authority: "[::1]:8080", "127.0.0.1:80", "localhost".
  std::string h = authority;
  if (!h.empty () && h[0] == '[') {
    const std::size_t close = h.find (']');
    h = close == std::string::npos ? std::string () : h.substr (1, close - 1);
  } else if (const std::size_t colon = h.find (':'); colon != std::string::npos) {
    h = h.substr (0, colon);
  }
  if (h == "localhost" || h == "::1")
    return true;
  return h.rfind ("127.", 0) == 0 &&
      h.find_first_not_of ("0123456789.") == std::string::npos;
}

std::optional<std::string>
bearer_token (const char *authorization)
{
  if (!authorization || g_ascii_strncasecmp (authorization, "Bearer ", 7) != 0)
    return std::nullopt;
  std::string_view t (authorization + 7);
  while (!t.empty () && t.front () == ' ')
    t.remove_prefix (1);
  while (!t.empty () && t.back () == ' ')
    t.remove_suffix (1);
  return std::string (t);
}

std::optional<std::string>
read_secret_file (const std::string &path, GError **error, std::size_t min_bytes)
{
  g_autofree char *contents = nullptr;
  gsize size = 0;
  if (!g_file_get_contents (path.c_str (), &contents, &size, error))
    return std::nullopt;
  std::string secret (contents, size);
  if (!secret.empty () && secret.back () == '\n')
    secret.pop_back ();
  if (!secret.empty () && secret.back () == '\r')
    secret.pop_back ();
  if (secret.size () < min_bytes) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "the secret in \"%s\" is %zu bytes; "
        "give at least %zu (e.g. head -c 32 /dev/urandom | base64 > %s)", path.c_str (),
        secret.size (), min_bytes, path.c_str ());
    return std::nullopt;
  }
  return secret;
}

}  // namespace rtcstream::signalling
