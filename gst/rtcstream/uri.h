// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rtcstream://HOST:PORT/STREAM (websocket) and rtcstreams://... (TLS).
// whip+http(s)://HOST:PORT/PATH and whep+http(s)://...: a WHIP or WHEP
// endpoint, the URL being the URI without its "whip+"/"whep+" prefix.
#pragma once

#include <string>
#include <string_view>

namespace rtcstream {

struct StreamUri {
  bool tls = false;
  std::string host;
  unsigned port = 8443;
  std::string stream;     // may be empty (a producer then uses "default")
  std::string ws_url;     // ws[s]://HOST:PORT/ws
  std::string http_protocol;  // "whip" or "whep" for those URIs, else empty
  std::string http_url;       // http[s]://... of a whip+/whep+ URI
};

// Parses; on failure returns false and sets error to a sentence.
bool parse_stream_uri (std::string_view uri, StreamUri &out, std::string &error);

}  // namespace rtcstream
