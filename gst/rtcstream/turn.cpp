// SPDX-License-Identifier: LGPL-2.1-or-later
#include "turn.h"

#include <glib.h>

#include <algorithm>

namespace rtcstream {

namespace {

constexpr const char *kExpected =
    " Write it as turn://USER:PASSWORD@HOST:PORT (turns:// for TLS, optionally "
    "?transport=udp or ?transport=tcp), with '%', '@', ':', '/', '?' and '#' in USER or "
    "PASSWORD %-escaped (e.g. '@' as %40).";

// Everything between the scheme and the last '@' replaced: good enough to
// name an entry that did not parse without showing its password.
std::string
masked (std::string_view uri)
{
  size_t scheme_end = uri.find ("://");
  size_t at = uri.rfind ('@');
  if (scheme_end == std::string_view::npos || at == std::string_view::npos || at < scheme_end)
    return std::string (uri);
  return std::string (uri.substr (0, scheme_end)) + "://***" + std::string (uri.substr (at));
}

}  // namespace

std::string
turn_display_name (const TurnServer &server)
{
  std::string host = server.host.find (':') != std::string::npos ? "[" + server.host + "]"
                                                                 : server.host;
  std::string name = std::string (server.tls ? "turns://" : "turn://") + server.user + "@" +
      host + ":" + std::to_string (server.port);
  if (!server.transport.empty ())
    name += "?transport=" + server.transport;
  return name;
}

std::string
turn_display_name (std::string_view uri)
{
  TurnServer server;
  std::string ignored;
  return parse_turn_uri (uri, server, ignored) ? turn_display_name (server) : masked (uri);
}

bool
parse_turn_uri (std::string_view uri, TurnServer &out, std::string &error)
{
  const std::string s (uri);
  const std::string shown = "'" + masked (uri) + "'";
  TurnServer r;
  if (s.rfind ("turn://", 0) == 0) {
    r.tls = false;
  } else if (s.rfind ("turns://", 0) == 0) {
    r.tls = true;
  } else {
    error = "TURN server " + shown + " must start with turn:// or turns://." + kExpected;
    return false;
  }
  // GLib's parser takes the first '@' and ends the authority at the first
  // '/', '?' or '#': an unescaped one in the password would silently make
  // another host out of the rest, so catch those before parsing.
  const size_t start = s.find ("://") + 3;
  const size_t auth_end = std::min (s.find_first_of ("/?#", start), s.size ());
  const std::string authority = s.substr (start, auth_end - start);
  const size_t ats = std::count (authority.begin (), authority.end (), '@');
  if (ats == 0) {
    error = "TURN server " + shown +
        (s.find ('@', auth_end) != std::string::npos
                ? " has a '/', '?' or '#' in its user or password that is not %-escaped."
                : " has no USER:PASSWORD@ part (TURN servers need credentials).") +
        kExpected;
    return false;
  }
  if (ats > 1) {
    error = "TURN server " + shown + " has an '@' in its user or password that is not "
        "%-escaped (write it as %40)." + kExpected;
    return false;
  }

  g_autoptr (GError) err = nullptr;
  g_autoptr (GUri) parsed = g_uri_parse (s.c_str (), G_URI_FLAGS_HAS_PASSWORD, &err);
  if (!parsed) {
    error = "TURN server " + shown + " is not a valid URI (" + err->message +
        "; a '%' itself is written %25)." + kExpected;
    return false;
  }
  const char *user = g_uri_get_user (parsed);
  const char *password = g_uri_get_password (parsed);
  if (!user || !*user || !password || !*password) {
    error = "TURN server " + shown + " needs both a user and a password." + kExpected;
    return false;
  }
  r.user = user;
  r.password = password;
  const char *host = g_uri_get_host (parsed);
  if (!host || !*host) {
    error = "TURN server " + shown + " has no host." + kExpected;
    return false;
  }
  r.host = host;
  int port = g_uri_get_port (parsed);
  if (port == 0) {
    error = "TURN server " + shown + " has port 0." + kExpected;
    return false;
  }
  r.port = port > 0 ? (unsigned) port : (r.tls ? 5349u : 3478u);
  const char *path = g_uri_get_path (parsed);
  if (path && *path && g_strcmp0 (path, "/") != 0) {
    error = "TURN server " + shown + " has a path ('" + path +
        "'); a TURN URI ends after HOST:PORT." + kExpected;
    return false;
  }
  if (const char *query = g_uri_get_query (parsed)) {
    g_autoptr (GHashTable) params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE,
        nullptr);
    guint n = params ? g_hash_table_size (params) : 0;
    const char *transport = params ? (const char *) g_hash_table_lookup (params, "transport")
                                   : nullptr;
    if (n != 1 || !transport) {
      error = "TURN server " + shown + " has an unsupported query '" + query +
          "': only ?transport=udp or ?transport=tcp is understood." + kExpected;
      return false;
    }
    if (g_strcmp0 (transport, "udp") != 0 && g_strcmp0 (transport, "tcp") != 0) {
      error = "TURN server " + shown + " has transport '" + transport +
          "': use udp or tcp." + kExpected;
      return false;
    }
    r.transport = transport;
  }
  out = std::move (r);
  return true;
}

bool
check_turn_uris (const std::vector<std::string> &uris, std::string &error)
{
  for (size_t i = 0; i < uris.size (); i++) {
    TurnServer server;
    std::string why;
    if (!parse_turn_uri (uris[i], server, why)) {
      error = "turn-servers entry " + std::to_string (i + 1) + " is invalid: " + why;
      return false;
    }
  }
  return true;
}

}  // namespace rtcstream
