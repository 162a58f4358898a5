// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Reading offers and answers: which codec a media chose, how many media a
// peer sends, whether an offer holds a codec we accept, and the codecs of an
// offered media we can serve. Pure functions of the SDP, for the elements'
// negotiation and the server's WHIP/WHEP endpoints.
#pragma once

#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

#include <string>
#include <vector>

#include "rtcstream/codecs.h"

namespace rtcstream {

// One codec of an offered media that we can handle, with the offer's
// payload type and its parameters as application/x-rtp caps.
struct CodecChoice {
  const Codec *codec = nullptr;
  guint pt = 0;
  GstCaps *caps = nullptr;  // owned

  CodecChoice () = default;
  CodecChoice (const CodecChoice &o);
  CodecChoice &operator= (const CodecChoice &o);
  ~CodecChoice ();
};

// The codecs of media idx of an offer that we can serve, in the offer's
// order: for we_send, codecs with a payloader here on a media the peer
// receives (recvonly or sendrecv); else codecs with a depayloader on a media
// the peer sends. Empty for a rejected or inactive media, or when none fits.
// H264 counts only in packetization-mode 1.
std::vector<CodecChoice> sdp_media_choices (const GstSDPMessage *sdp, guint idx, bool we_send);

// application/x-rtp caps for a transceiver's codec-preferences: the chosen
// payload type with the fields that must match (and the feedback offered),
// without the stream-specific ones (profile-level-id, sprop-*) when loose.
GstCaps *preference_caps (const CodecChoice &choice, bool loose);

// Returns the encoding-name (upper case) of the first format of media idx of
// an SDP, or empty when the media is rejected (port 0) or has none.
std::string sdp_media_codec (const GstSDPMessage *sdp, guint idx, guint *pt);

// The id an SDP gives the RTP header extension `uri` (a=extmap, in the first
// media that has it, or at session level), or 0 when it has none.
guint sdp_extmap_id (const GstSDPMessage *sdp, const char *uri);
// The same for media idx alone (its a=extmap, else the session level's).
guint sdp_media_extmap_id (const GstSDPMessage *sdp, guint idx, const char *uri);

// Whether a media has an attribute with this key (a flag such as recvonly).
bool sdp_media_has_attribute (const GstSDPMedia *m, const char *key);

// The codecs of the codec table a media offers, in the order of its formats
// (its preference); rtx, red, ulpfec and unknown codecs are left out.
std::vector<const Codec *> sdp_media_codecs (const GstSDPMedia *m);

// An audio or video media of an offer that is live (not rejected): a stream
// the side that answers will receive.
struct ReceivingMedia {
  guint mline;
  MediaKind kind;
  std::vector<const Codec *> codecs;  // sdp_media_codecs
};
std::vector<ReceivingMedia> sdp_receiving_media (const GstWebRTCSessionDescription *offer);

// Whether media mline of an answer to our offer will be sent to us (not
// rejected, sendonly or sendrecv).
bool sdp_answer_sends (const GstWebRTCSessionDescription *answer, guint mline);

// DTLS roles (RFC 5763 a=setup). An answer says which side is the DTLS
// client (active) and which the server (passive). The server is done with
// the handshake first: it has its SRTP keys once it sent its last flight;
// the client only once that flight arrived. A sender that is the server
// starts its media then, and on a thin link that media fills the queue in
// which the last flight, or its retransmission, must travel to the client,
// which cannot decrypt any of it nor send feedback until that flight
// arrives (behind 150 kbit/s, or at 10% loss with OpenSSL's backoff of 1,
// 2, 4, 8, 16 s, sessions of netsim's checks stayed so for 20 s). A
// receiving side therefore answers as the server: the sender, done last,
// sends media only once both ends have their keys.
//
// Turns an answer's a=setup:active into a=setup:passive (every media).
void sdp_answer_as_dtls_server (GstSDPMessage *sdp);

}  // namespace rtcstream
