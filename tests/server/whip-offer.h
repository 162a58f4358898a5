// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A WHIP/WHEP offer for tests of the server (tests/server and
// tests/integration/test_whip_server.cpp).
#pragma once

#include <string>

namespace {

// A syntactically complete offer of one VP8 video media that no real peer
// stands behind: enough for the checks made before any media exists.
inline std::string
static_offer (const char *direction, const std::string &extra_media = "")
{
  return "v=0\r\n"
         "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
         "s=-\r\n"
         "t=0 0\r\n"
         "a=group:BUNDLE 0\r\n"
         "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
         "c=IN IP4 0.0.0.0\r\n"
         "a=mid:0\r\n"
         "a=" + std::string (direction) + "\r\n"
         "a=ice-ufrag:Ab12\r\n"
         "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
         "a=fingerprint:sha-256 8B:4E:66:3B:22:1F:64:63:5A:CF:B4:B1:93:23:1C:3E:"
         "F1:56:EC:E0:9D:2B:DD:86:A3:0E:65:56:86:DA:4B:A8\r\n"
         "a=setup:actpass\r\n"
         "a=rtcp-mux\r\n"
         "a=rtpmap:96 VP8/90000\r\n" + extra_media;
}

}  // namespace
