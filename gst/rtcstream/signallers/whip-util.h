// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The pure parts of WHIP (RFC 9725) and WHEP clients, kept apart from the
// HTTP transport so that they are tested without a network: ICE servers from
// Link headers (ice-server.h), candidates put into an offer (full ICE), trickle-ice-sdpfrag
// bodies (RFC 8840) built and read, and Location resolved against the URL.
#pragma once

#include <gst/sdp/sdp.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rtcstream/signallers/ice-server.h"

namespace rtcstream::whip {


// A local candidate: the m-line index and the "candidate:..." attribute
// text; an empty candidate marks the end of gathering.
using Candidate = std::pair<unsigned, std::string>;

// Adds candidates (and a=end-of-candidates when end) to the media of sdp
// they belong to. Candidates for an m-line sdp lacks are dropped.
void add_candidates (GstSDPMessage *sdp, const std::vector<Candidate> &candidates, bool end);

// An application/trickle-ice-sdpfrag body for candidates of an offer: the
// offer's ICE credentials, then per media its m= and a=mid lines and its
// candidates. end adds a=end-of-candidates.
std::string make_sdpfrag (const GstSDPMessage *offer, const std::vector<Candidate> &candidates,
    bool end);

// Whether text holds no control characters but line ends and tabs, as SDP
// and sdpfrag bodies may.
bool plain_text (std::string_view text);

// A media an sdpfrag's candidates may name: its a=mid and m-line index.
struct FragMedia {
  std::string mid;
  unsigned mline = 0;
};
// The media of offer, in order.
std::vector<FragMedia> sdpfrag_media (const GstSDPMessage *offer);

// Limits on an sdpfrag body: the bytes of one candidate and their number.
constexpr std::size_t kMaxCandidateBytes = 512;
constexpr std::size_t kMaxFragCandidates = 64;

// The candidates of an application/trickle-ice-sdpfrag body (RFC 8840): a
// PATCH to a WHIP/WHEP server, or a client's PATCH answer. Each belongs to
// the media named by the last a=mid: line before it (the first of media
// when none does). Fails with a sentence in error on control characters, a
// mid that media lacks, or more than the limits above.
bool parse_sdpfrag (const std::string &body, const std::vector<FragMedia> &media,
    std::vector<Candidate> &out, std::string &error);

// Resolves a Location header against the URL the request went to. Returns
// empty when location is not a valid reference.
std::string resolve_location (const std::string &base, const std::string &location);

}  // namespace rtcstream::whip
