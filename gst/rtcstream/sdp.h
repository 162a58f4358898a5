// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Reading offers and answers: which codec a media chose, how many media a
// peer sends, and whether an offer holds a codec we accept. Pure functions
// of the SDP, for the elements' negotiation.
#pragma once

#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

#include <string>
#include <vector>

#include "rtcstream/codecs.h"

namespace rtcstream {

// Returns the encoding-name (upper case) of the first format of media idx of
// an SDP, or empty when the media is rejected (port 0) or has none.
std::string sdp_media_codec (const GstSDPMessage *sdp, guint idx, guint *pt);

// The id an SDP gives the RTP header extension `uri` (a=extmap, in the first
// media that has it, or at session level), or 0 when it has none.
guint sdp_extmap_id (const GstSDPMessage *sdp, const char *uri);

// Whether a media has an attribute with this key (a flag such as recvonly).
bool sdp_media_has_attribute (const GstSDPMedia *m, const char *key);

// Audio and video media of an offer that are live (not rejected): the
// streams a peer that answers it will receive.
guint sdp_count_receiving_media (const GstWebRTCSessionDescription *offer);

// Media of an answer to our offer that the endpoint will send (sendonly or
// sendrecv, not rejected): the pads to expect.
guint sdp_count_sending_media (const GstWebRTCSessionDescription *answer);

// Media codecs of an offer we cannot decode, as a sentence; empty when every
// audio/video media offers at least one codec of video_codecs / audio_codecs
// that can be decoded here.
std::string sdp_undecodable_offer (const GstWebRTCSessionDescription *offer,
    const std::vector<const Codec *> &video_codecs,
    const std::vector<const Codec *> &audio_codecs);

}  // namespace rtcstream
