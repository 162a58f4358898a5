// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The SDP side of the WHIP/WHEP endpoints, without pipelines: checks an
// offer from the network (size, media, codecs, ICE and DTLS fields), picks
// the codecs we can serve for each media (sdp_media_choices), and reads the
// candidates of a trickle-ice-sdpfrag PATCH body.
// Pure functions on GstSDPMessage, usable from any thread.
#pragma once

#include <gst/gst.h>
#include <gst/sdp/sdp.h>

#include <string>
#include <utility>
#include <vector>

#include "rtcstream/codecs.h"
#include "rtcstream/sdp.h"
#include "rtcstream/signallers/whip-util.h"

namespace rtcstream::signalling {

// What the remote peer wants to do with its media.
enum class OfferKind {
  Publish,  // WHIP: the client sends (sendonly or sendrecv media)
  Play,     // WHEP: the client receives (recvonly or sendrecv media)
};

struct OfferMedia {
  guint mline = 0;
  MediaKind kind = MediaKind::Video;
  std::string mid;
  std::vector<CodecChoice> choices;  // in the offer's order of preference; may be empty
};

struct Offer {
  std::vector<OfferMedia> media;  // every audio/video m-line, in order
  // The offer groups its media in BUNDLE but gives them different ICE
  // credentials (aiortc does): webrtcbin refuses that, so it gets
  // unified_text, where every media has the first media's credentials.
  bool credentials_unified = false;
  std::string unified_text;
  std::size_t usable () const;    // media with at least one choice
};

// Limits on what an offer may contain before it is even looked at.
constexpr guint kMaxMediaLines = 8;
constexpr guint kMaxFormatsPerMedia = 64;
constexpr guint kMaxAttributes = 1024;

// Checks an offer and fills `out`. On failure, `error` is a short sentence
// for a 400 reply. A codec counts only when the element it needs is
// installed (its depayloader for Publish, its payloader for Play).
bool analyse_offer (const std::string &text, OfferKind kind, Offer &out, std::string &error);

// The media of offer as whip::parse_sdpfrag takes them.
std::vector<whip::FragMedia> sdpfrag_media (const Offer &offer);

}  // namespace rtcstream::signalling
