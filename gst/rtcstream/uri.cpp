// SPDX-License-Identifier: LGPL-2.1-or-later
#include "uri.h"

#include <glib.h>

namespace rtcstream {

namespace {

// whip+http(s)://... or whep+http(s)://...
bool
parse_http_uri (const std::string &s, const char *proto, StreamUri &out, std::string &error)
{
  std::string url = s.substr (5);
  g_autoptr (GError) err = nullptr;
  g_autoptr (GUri) parsed = g_uri_parse (url.c_str (), G_URI_FLAGS_ENCODED_PATH, &err);
  const std::string form = std::string (proto) + "+http://HOST:PORT/PATH or " + proto +
      "+https://...";
  if (!parsed) {
    error = "Invalid URI '" + s + "': " + err->message + ". Expected " + form;
    return false;
  }
  const char *scheme = g_uri_get_scheme (parsed);
  if (g_strcmp0 (scheme, "http") != 0 && g_strcmp0 (scheme, "https") != 0) {
    error = "Unsupported URI '" + s + "': expected " + form;
    return false;
  }
  const char *host = g_uri_get_host (parsed);
  if (!host || !*host) {
    error = "URI '" + s + "' has no host: use " + form;
    return false;
  }
  StreamUri r;
  r.tls = g_strcmp0 (scheme, "https") == 0;
  r.host = host;
  int port = g_uri_get_port (parsed);
  r.port = port > 0 ? static_cast<unsigned> (port) : (r.tls ? 443 : 80);
  // The last path segment names the stream, for messages and stats.
  std::string path = g_uri_get_path (parsed);
  while (!path.empty () && path.back () == '/')
    path.pop_back ();
  std::string last = path.substr (path.find_last_of ('/') + 1);
  g_autofree char *unescaped = g_uri_unescape_string (last.c_str (), nullptr);
  r.stream = unescaped ? unescaped : last;
  r.http_protocol = proto;
  r.http_url = url;
  out = std::move (r);
  return true;
}

}  // namespace

bool
parse_stream_uri (std::string_view uri, StreamUri &out, std::string &error)
{
  std::string s (uri);
  for (const char *proto : {"whip", "whep"}) {
    std::string prefix = std::string (proto) + "+";
    if (g_ascii_strncasecmp (s.c_str (), prefix.c_str (), prefix.size ()) == 0)
      return parse_http_uri (s, proto, out, error);
  }
  g_autoptr (GError) err = nullptr;
  g_autoptr (GUri) parsed = g_uri_parse (s.c_str (), G_URI_FLAGS_ENCODED_PATH, &err);
  if (!parsed) {
    error = "Invalid URI '" + s + "': " + err->message +
        ". Expected rtcstream://HOST:PORT/STREAM";
    return false;
  }
  std::string scheme = g_uri_get_scheme (parsed);
  if (scheme != "rtcstream" && scheme != "rtcstreams") {
    error = "Unsupported URI scheme '" + scheme +
        "': use rtcstream://HOST:PORT/STREAM or rtcstreams:// for TLS";
    return false;
  }
  StreamUri r;
  r.tls = scheme == "rtcstreams";
  const char *host = g_uri_get_host (parsed);
  if (!host || !*host) {
    error = "URI '" + s + "' has no host: use rtcstream://HOST:PORT/STREAM";
    return false;
  }
  r.host = host;
  int port = g_uri_get_port (parsed);
  r.port = port > 0 ? static_cast<unsigned> (port) : 8443;
  std::string path = g_uri_get_path (parsed);
  while (!path.empty () && path.front () == '/')
    path.erase (0, 1);
  while (!path.empty () && path.back () == '/')
    path.pop_back ();
  g_autofree char *unescaped = g_uri_unescape_string (path.c_str (), nullptr);
  r.stream = unescaped ? unescaped : path;
  if (r.stream.find ('/') != std::string::npos) {
    error = "Stream name '" + r.stream + "' in URI '" + s + "' must not contain '/'";
    return false;
  }
  std::string host_part = r.host.find (':') != std::string::npos ? "[" + r.host + "]" : r.host;
  r.ws_url = std::string (r.tls ? "wss://" : "ws://") + host_part + ":" +
      std::to_string (r.port) + "/ws";
  out = std::move (r);
  return true;
}

}  // namespace rtcstream
