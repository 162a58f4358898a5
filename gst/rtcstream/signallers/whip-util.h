// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The pure parts of WHIP (RFC 9725) and WHEP clients, kept apart from the
// HTTP transport so that they are tested without a network: ICE servers from
// Link headers (ice-server.h), candidates put into an offer (full ICE), trickle-ice-sdpfrag
// bodies (RFC 8840) built and read, and Location resolved against the URL.
#pragma once

#include <gst/sdp/sdp.h>

#include <string>
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

// The remote candidates of an sdpfrag body (a PATCH answer), mapped to the
// m-line index of the media of offer with the same mid (first media when
// the fragment names none).
std::vector<Candidate> parse_sdpfrag (const std::string &body, const GstSDPMessage *offer);

// Resolves a Location header against the URL the request went to. Returns
// empty when location is not a valid reference.
std::string resolve_location (const std::string &base, const std::string &location);

}  // namespace rtcstream::whip
