// SPDX-License-Identifier: LGPL-2.1-or-later
#include "ice-servers.h"

#include <glib.h>

#include "auth.h"
#include "rtcstream/signallers/ice-server.h"

namespace rtcstream::signalling {

namespace {

bool
is_turn (const std::string &url)
{
  return g_str_has_prefix (url.c_str (), "turn:") || g_str_has_prefix (url.c_str (), "turns:");
}

// A quoted-string of RFC 9110: backslash before '"' and '\'.
std::string
quoted (const std::string &s)
{
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + '"';
}

}  // namespace

std::string
check_ice_server_options (const IceServerOptions &o)
{
  bool any_turn = false;
  for (const std::string &url : o.urls) {
    const char *u = url.c_str ();
    if (!g_str_has_prefix (u, "stun:") && !g_str_has_prefix (u, "turn:") &&
        !g_str_has_prefix (u, "turns:")) {
      return "--ice-server \"" + url + "\" is not a stun:, turn: or turns: URL (e.g. "
             "stun:stun.example.net:3478 or turn:turn.example.net:3478?transport=udp)";
    }
    const char *rest = strchr (u, ':') + 1;
    if (*rest == '\0' || *rest == '/' || strchr (url.c_str (), '@') ||
        url.find_first_of (" \t\r\n\"<>,;") != std::string::npos) {
      return "--ice-server \"" + url + "\" must be SCHEME:HOST[:PORT][?transport=udp|tcp], "
             "without '//', user or password (give those with --turn-user/--turn-password "
             "or --turn-secret)";
    }
    any_turn = any_turn || is_turn (url);
  }
  const bool fixed = !o.turn_user.empty () || !o.turn_password.empty ();
  if (fixed && !o.turn_secret.empty ())
    return "--turn-secret and --turn-user/--turn-password exclude each other: per-peer "
           "credentials from a shared secret, or one fixed user";
  if (fixed && (o.turn_user.empty () || o.turn_password.empty ()))
    return "--turn-user and --turn-password go together";
  if (any_turn && !fixed && o.turn_secret.empty ())
    return "a turn: --ice-server needs credentials: --turn-secret (coturn's "
           "static-auth-secret) or --turn-user and --turn-password";
  if (!any_turn && (fixed || !o.turn_secret.empty ()))
    return "TURN credentials were given but no turn: or turns: --ice-server";
  if (o.turn_ttl_s == 0)
    return "--turn-ttl must be at least 1 second";
  if (o.relay_only && !any_turn)
    return "--ice-transport-policy relay needs a turn: or turns: --ice-server, the only "
           "path it leaves";
  return {};
}

std::string
turn_rest_password (const std::string &secret, const std::string &username)
{
  const std::string digest = hmac_digest (G_CHECKSUM_SHA1, secret, username);
  g_autofree gchar *b64 = g_base64_encode (reinterpret_cast<const guchar *> (digest.data ()),
      digest.size ());
  return b64;
}

std::vector<protocol::IceServer>
ice_servers_for (const IceServerOptions &o, const std::string &label, std::int64_t now_s)
{
  protocol::IceServer stun, turn;
  for (const std::string &url : o.urls)
    (is_turn (url) ? turn : stun).urls.push_back (url);
  std::vector<protocol::IceServer> out;
  if (!stun.urls.empty ())
    out.push_back (std::move (stun));
  if (!turn.urls.empty ()) {
    if (!o.turn_secret.empty ()) {
      turn.username = std::to_string (now_s + o.turn_ttl_s) + ":" + label;
      turn.credential = turn_rest_password (o.turn_secret, turn.username);
    } else {
      turn.username = o.turn_user;
      turn.credential = o.turn_password;
    }
    out.push_back (std::move (turn));
  }
  return out;
}

std::vector<std::string>
link_header_values (const std::vector<protocol::IceServer> &servers)
{
  std::vector<std::string> out;
  for (const protocol::IceServer &s : servers) {
    for (const std::string &url : s.urls) {
      std::string v = "<" + url + ">; rel=\"ice-server\"";
      if (!s.username.empty ()) {
        v += "; username=" + quoted (s.username) + "; credential=" + quoted (s.credential) +
            "; credential-type=\"password\"";
      }
      out.push_back (std::move (v));
    }
  }
  return out;
}

}  // namespace rtcstream::signalling
