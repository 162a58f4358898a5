// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The codec table: for each codec rtcstream speaks, its encoded caps, RTP
// caps, and the elements that encode, parse, payload, depayload and decode
// it, with the low-latency settings WebRTC wants. Everything else asks here.
#pragma once

#include <gst/gst.h>

#include <string>
#include <string_view>
#include <vector>

namespace rtcstream {

enum class MediaKind { Video, Audio };

const char *media_kind_name (MediaKind kind);

struct Codec {
  const char *name;           // RTP encoding-name, upper case: VP8, H264, VP9, OPUS
  MediaKind kind;
  const char *encoded_caps;   // e.g. "video/x-vp8"
  const char *encoder;        // element factory
  const char *parser;         // after the encoder / for encoded input; may be null
  const char *payloader;
  const char *depayloader;
  const char *decoder;        // preferred decoder
  const char *fallback_decoder;
  guint clock_rate;
  guint default_pt;
  const char *rtp_fmtp;       // extra RTP caps fields, may be empty
};

// All codecs we know, in no particular order.
const std::vector<Codec> &all_codecs ();

// Case-insensitive lookup by encoding-name ("vp8", "H264", "opus").
const Codec *codec_by_name (std::string_view name);
// The codec whose encoded caps match these (already-encoded input), or null.
const Codec *codec_for_encoded_caps (const GstCaps *caps);
// The codec named by RTP caps (encoding-name field), or null.
const Codec *codec_for_rtp_caps (const GstCaps *caps);

// Parses "VP8,H264" into codecs of one kind. Unknown names or names of the
// other kind are reported through error (a sentence) and make it fail.
bool parse_codec_list (std::string_view list, MediaKind kind,
    std::vector<const Codec *> &out, std::string &error);
std::string codec_list_to_string (const std::vector<const Codec *> &codecs);

// Whether the elements needed are installed.
bool can_encode (const Codec &codec);
bool can_decode (const Codec &codec);
// Depayloader and parser: what giving the codec's encoded stream out takes.
bool can_depayload (const Codec &codec);
bool can_payload (const Codec &codec);

// The RTP header extension of transport-wide congestion control feedback
// (TWCC), and the id rtcstream offers it with.
constexpr const char *kTwccExtensionUri =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
constexpr guint kTwccExtensionId = 3;

// application/x-rtp caps for one codec. With pt == 0 no payload field is set
// (suitable for matching); rtcp_fb adds the feedback we support (nack, pli,
// transport-wide congestion control with its header extension).
GstCaps *rtp_caps (const Codec &codec, guint pt, bool rtcp_fb);
// Loose application/x-rtp caps (media, encoding-name, clock-rate only) that
// match any offer of this codec, whatever its fmtp parameters.
GstCaps *rtp_match_caps (const Codec &codec);

// Elements, configured for low latency. Return a floating ref or null when
// the plugin is missing.
GstElement *make_encoder (const Codec &codec, const char *name);
GstElement *make_payloader (const Codec &codec, guint pt, const char *name);
GstElement *make_depayloader (const Codec &codec, const char *name);
GstElement *make_decoder (const Codec &codec, const char *name);
GstElement *make_parser (const Codec &codec, const char *name);

// The bitrate an encoder made by make_encoder targets, in bit/s (0 when the
// codec has no such setting), and changing it while it runs.
guint encoder_bitrate (const Codec &codec, GstElement *encoder);
void set_encoder_bitrate (const Codec &codec, GstElement *encoder, guint bps);
// Whether the encoder drops frames rather than exceed its bitrate (VP8 and
// VP9; others cannot, and overshoot instead).
void set_encoder_frame_dropping (const Codec &codec, GstElement *encoder, bool drop);

// Raw caps that the encoder of this kind is fed with after conversion.
GstCaps *encoder_input_caps (const Codec &codec);
// The raw caps family of a kind ("video/x-raw" / "audio/x-raw").
const char *raw_caps_name (MediaKind kind);

// Before its first buffer, an encoded pad of rtcstreamsrc already knows its
// codec (the one its answer chose): it answers caps queries with the codec's
// encoded caps, and sends this out-of-band event downstream once it knows
// it, so that an element that waits for its input's codec (rtcstreamsink
// relaying the stream, the server's WHEP sessions) can ask again at once
// instead of waiting for the media's first packet.
GstEvent *codec_known_event ();
bool is_codec_known_event (GstEvent *event);

}  // namespace rtcstream
