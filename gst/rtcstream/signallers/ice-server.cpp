// SPDX-License-Identifier: LGPL-2.1-or-later
#include "ice-server.h"

#include <glib.h>

#include <map>
#include <string_view>

namespace rtcstream {

namespace {

bool
starts_with (std::string_view s, std::string_view prefix)
{
  return s.substr (0, prefix.size ()) == prefix;
}

// Whether s holds no control characters (NUL included), nor spaces unless
// spaces: what credentials (spaces) and a URI (none) may hold.
bool
printable (std::string_view s, bool spaces = false)
{
  for (char c : s) {
    const auto u = static_cast<unsigned char> (c);
    if (u < 0x20 || u == 0x7f || (u == 0x20 && !spaces))
      return false;
  }
  return true;
}

std::string
lower (std::string s)
{
  for (char &c : s)
    c = g_ascii_tolower (c);
  return s;
}

// Percent-escapes everything but unreserved characters, for userinfo.
std::string
escape (const std::string &s)
{
  g_autofree char *e = g_uri_escape_string (s.c_str (), nullptr, FALSE);
  return e ? e : "";
}

// Reads one link-param value at pos: a quoted string (with \ escapes) or a
// token up to ';' or ','.
std::string
read_value (const std::string &s, std::size_t &pos)
{
  std::string out;
  if (pos < s.size () && s[pos] == '"') {
    pos++;
    while (pos < s.size () && s[pos] != '"') {
      if (s[pos] == '\\' && pos + 1 < s.size ())
        pos++;
      out += s[pos++];
    }
    if (pos < s.size ())
      pos++;  // closing quote
    return out;
  }
  while (pos < s.size () && s[pos] != ';' && s[pos] != ',')
    out += s[pos++];
  while (!out.empty () && g_ascii_isspace (out.back ()))
    out.pop_back ();
  return out;
}

void
skip_space (const std::string &s, std::size_t &pos)
{
  while (pos < s.size () && g_ascii_isspace (s[pos]))
    pos++;
}

// Parses the links of one header value into out.
void
parse_link_value (const std::string &s, std::vector<IceServer> &out)
{
  std::size_t pos = 0;
  while (pos < s.size ()) {
    skip_space (s, pos);
    if (pos < s.size () && s[pos] == ',') {
      pos++;
      continue;
    }
    if (pos >= s.size () || s[pos] != '<')
      return;  // not a link: give up on this value
    std::size_t close = s.find ('>', pos);
    if (close == std::string::npos)
      return;
    IceServer server;
    server.urls = { s.substr (pos + 1, close - pos - 1) };
    pos = close + 1;
    std::map<std::string, std::string> params;
    for (;;) {
      skip_space (s, pos);
      if (pos >= s.size () || s[pos] != ';')
        break;
      pos++;
      skip_space (s, pos);
      std::string name;
      while (pos < s.size () && s[pos] != '=' && s[pos] != ';' && s[pos] != ',' &&
          !g_ascii_isspace (s[pos]))
        name += s[pos++];
      skip_space (s, pos);
      std::string value;
      if (pos < s.size () && s[pos] == '=') {
        pos++;
        skip_space (s, pos);
        value = read_value (s, pos);
      }
      params[lower (name)] = value;
    }
    // Skip whatever is left of this link up to the next one.
    while (pos < s.size () && s[pos] != ',')
      pos++;
    if (lower (params["rel"]) != "ice-server")
      continue;
    server.username = params["username"];
    server.credential = params["credential"];
    out.push_back (std::move (server));
  }
}

// One URL as webrtcbin takes it; empty for an unknown scheme.
std::string
webrtcbin_uri (const std::string &url, const std::string &username,
    const std::string &credential)
{
  std::size_t colon = url.find (':');
  if (colon == std::string::npos)
    return {};
  std::string scheme = lower (url.substr (0, colon));
  std::string rest = url.substr (colon + 1);
  while (starts_with (rest, "/"))
    rest.erase (0, 1);
  if (rest.empty () || !printable (rest) || !printable (username, true) ||
      !printable (credential, true))
    return {};  // not something webrtcbin (and libnice) could take
  if (scheme == "stun" || scheme == "stuns")
    return scheme + "://" + rest;
  if (scheme == "turn" || scheme == "turns") {
    std::string userinfo;
    if (!username.empty () || !credential.empty ())
      userinfo = escape (username) + ":" + escape (credential) + "@";
    return scheme + "://" + userinfo + rest;
  }
  return {};
}

bool
unescape (const std::string &s, std::string &out)
{
  g_autofree char *u = g_uri_unescape_string (s.c_str (), nullptr);
  if (!u)
    return false;  // a bad %-escape, or %00
  out = u;
  return printable (out, true);
}

}  // namespace

bool
IceServer::is_turn () const
{
  for (const std::string &url : urls)
    if (starts_with (lower (url), "turn:") || starts_with (lower (url), "turns:"))
      return true;
  return false;
}

std::vector<std::string>
IceServer::webrtcbin_uris () const
{
  std::vector<std::string> out;
  for (const std::string &url : urls) {
    std::string uri = webrtcbin_uri (url, username, credential);
    if (!uri.empty ())
      out.push_back (std::move (uri));
  }
  return out;
}

WebrtcbinIceUris
webrtcbin_ice_uris (const std::vector<IceServer> &servers)
{
  WebrtcbinIceUris out;
  for (const IceServer &s : servers)
    for (std::string &uri : s.webrtcbin_uris ()) {
      if (starts_with (uri, "turn"))
        out.turn.push_back (std::move (uri));
      else if (out.stun.empty ())
        out.stun = std::move (uri);
    }
  return out;
}

bool
IceServer::from_webrtcbin_uri (const std::string &uri, IceServer &out)
{
  const std::size_t sep = uri.find ("://");
  if (sep == std::string::npos || !printable (uri))
    return false;
  const std::string scheme = lower (uri.substr (0, sep));
  std::string rest = uri.substr (sep + 3);
  out = IceServer ();
  if (scheme == "turn" || scheme == "turns") {
    const std::size_t at = rest.rfind ('@', rest.find ('?'));
    if (at != std::string::npos) {
      const std::string userinfo = rest.substr (0, at);
      const std::size_t colon = userinfo.find (':');
      if (!unescape (userinfo.substr (0, colon), out.username) ||
          (colon != std::string::npos && !unescape (userinfo.substr (colon + 1), out.credential)))
        return false;
      rest.erase (0, at + 1);
    }
  } else if (scheme != "stun" && scheme != "stuns") {
    return false;
  }
  if (rest.empty () || rest[0] == '/')
    return false;  // no host
  out.urls = { scheme + ":" + rest };
  return true;
}

std::vector<IceServer>
parse_ice_server_links (const std::vector<std::string> &values)
{
  std::vector<IceServer> out;
  for (const std::string &v : values)
    parse_link_value (v, out);
  return out;
}
}  // namespace rtcstream
