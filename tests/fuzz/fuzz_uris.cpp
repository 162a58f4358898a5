// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libFuzzer target: what users and peers write as URIs and headers, read by
// the elements and the server: stream URIs (rtcstream://, whip+http://...),
// TURN URIs of turn-servers, STUN/TURN URIs an application's signaller hands
// out, RFC 9725 Link headers and trickle-ice-sdpfrag bodies (WHIP/WHEP PATCH
// requests and answers). Each must accept or refuse with a sentence; what
// is accepted must hold what it promises.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "rtcstream/signallers/ice-server.h"
#include "rtcstream/signallers/whip-util.h"
#include "rtcstream/turn.h"
#include "rtcstream/uri.h"

namespace {

std::vector<std::string>
lines_of (const std::string &text)
{
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size ()) {
    std::size_t end = text.find ('\n', start);
    if (end == std::string::npos)
      end = text.size ();
    out.push_back (text.substr (start, end - start));
    start = end + 1;
  }
  return out;
}

void
check (bool ok, const std::string &error)
{
  if (!ok && error.empty ())
    abort ();  // a refusal always says why
}

}  // namespace

extern "C" int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  // The first byte picks the reader, the rest is its input.
  const std::string text (reinterpret_cast<const char *> (data) + 1, size - 1);
  std::string error;
  switch (data[0] % 5) {
    case 0: {
      rtcstream::StreamUri uri;
      const bool ok = rtcstream::parse_stream_uri (text, uri, error);
      check (ok, error);
      if (ok && (uri.host.empty () || uri.port == 0 || uri.port > 65535))
        abort ();
      break;
    }
    case 1: {
      rtcstream::TurnServer turn;
      const bool ok = rtcstream::parse_turn_uri (text, turn, error);
      check (ok, error);
      // The password never shows in what is logged or said.
      if (!turn.password.empty () && turn.password.size () > 3 &&
          error.find (turn.password) != std::string::npos)
        abort ();
      (void) rtcstream::turn_display_name (text);
      check (rtcstream::check_turn_uris (lines_of (text), error), error);
      break;
    }
    case 2: {
      // A server read from a webrtcbin URI writes back as one that reads the same.
      rtcstream::IceServer server;
      if (!rtcstream::IceServer::from_webrtcbin_uri (text, server))
        break;
      for (const std::string &uri : server.webrtcbin_uris ()) {
        rtcstream::IceServer again;
        if (!rtcstream::IceServer::from_webrtcbin_uri (uri, again) || !(again == server))
          abort ();
      }
      (void) rtcstream::webrtcbin_ice_uris ({ server });
      break;
    }
    case 3: {
      const std::vector<rtcstream::IceServer> servers =
          rtcstream::parse_ice_server_links (lines_of (text));
      (void) rtcstream::webrtcbin_ice_uris (servers);
      break;
    }
    case 4: {
      std::vector<rtcstream::whip::Candidate> candidates;
      const bool ok = rtcstream::whip::parse_sdpfrag (text,
          { { "0", 0 }, { "1", 1 }, { "video", 2 } }, candidates, error);
      check (ok, error);
      if (ok && candidates.size () > rtcstream::whip::kMaxFragCandidates)
        abort ();
      for (const auto &c : candidates)
        if (c.first > 2 || c.second.size () > rtcstream::whip::kMaxCandidateBytes)
          abort ();
      break;
    }
  }
  return 0;
}
