// SPDX-License-Identifier: LGPL-2.1-or-later
#include "codecs.h"

#include <algorithm>
#include <cctype>

namespace rtcstream {

namespace {

// H264: constrained baseline level 3.1, packetization-mode 1, what every
// browser decodes in hardware and software alike.
constexpr const char *kH264Fmtp =
    "packetization-mode=(string)1, profile-level-id=(string)42e01f, "
    "level-asymmetry-allowed=(string)1";

const std::vector<Codec> kCodecs = {
  {"VP8", MediaKind::Video, "video/x-vp8", "vp8enc", nullptr, "rtpvp8pay",
   "rtpvp8depay", "vp8dec", "avdec_vp8", 90000, 96, ""},
  {"H264", MediaKind::Video, "video/x-h264", "x264enc", "h264parse", "rtph264pay",
   "rtph264depay", "avdec_h264", "openh264dec", 90000, 102, kH264Fmtp},
  {"VP9", MediaKind::Video, "video/x-vp9", "vp9enc", nullptr, "rtpvp9pay",
   "rtpvp9depay", "vp9dec", "avdec_vp9", 90000, 98, ""},
  {"OPUS", MediaKind::Audio, "audio/x-opus", "opusenc", nullptr, "rtpopuspay",
   "rtpopusdepay", "opusdec", "avdec_opus", 48000, 111, ""},
};

bool
iequals (std::string_view a, std::string_view b)
{
  return a.size () == b.size () &&
      std::equal (a.begin (), a.end (), b.begin (), [] (char x, char y) {
        return std::tolower (static_cast<unsigned char> (x)) ==
            std::tolower (static_cast<unsigned char> (y));
      });
}

bool
have_factory (const char *name)
{
  if (!name)
    return false;
  GstElementFactory *f = gst_element_factory_find (name);
  if (!f)
    return false;
  gst_object_unref (f);
  return true;
}

std::string_view
trim (std::string_view s)
{
  while (!s.empty () && std::isspace (static_cast<unsigned char> (s.front ())))
    s.remove_prefix (1);
  while (!s.empty () && std::isspace (static_cast<unsigned char> (s.back ())))
    s.remove_suffix (1);
  return s;
}

}  // namespace

const char *
media_kind_name (MediaKind kind)
{
  return kind == MediaKind::Video ? "video" : "audio";
}

const char *
raw_caps_name (MediaKind kind)
{
  return kind == MediaKind::Video ? "video/x-raw" : "audio/x-raw";
}

const std::vector<Codec> &
all_codecs ()
{
  return kCodecs;
}

const Codec *
codec_by_name (std::string_view name)
{
  for (const Codec &c : kCodecs)
    if (iequals (c.name, name))
      return &c;
  return nullptr;
}

namespace {
constexpr const char *kCodecKnownEvent = "rtcstream-codec-known";
}

GstEvent *
codec_known_event ()
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM_OOB,
      gst_structure_new_empty (kCodecKnownEvent));
}

bool
is_codec_known_event (GstEvent *event)
{
  const GstStructure *s = gst_event_get_structure (event);
  return GST_EVENT_TYPE (event) == GST_EVENT_CUSTOM_DOWNSTREAM_OOB && s &&
      gst_structure_has_name (s, kCodecKnownEvent);
}

const Codec *
codec_for_encoded_caps (const GstCaps *caps)
{
  if (!caps || gst_caps_is_empty (caps) || gst_caps_is_any (caps))
    return nullptr;
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  for (const Codec &c : kCodecs)
    if (gst_structure_has_name (s, c.encoded_caps))
      return &c;
  return nullptr;
}

const Codec *
codec_for_rtp_caps (const GstCaps *caps)
{
  if (!caps || gst_caps_is_empty (caps) || gst_caps_is_any (caps))
    return nullptr;
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  const char *enc = gst_structure_get_string (s, "encoding-name");
  return enc ? codec_by_name (enc) : nullptr;
}

bool
parse_codec_list (std::string_view list, MediaKind kind,
    std::vector<const Codec *> &out, std::string &error)
{
  std::vector<const Codec *> result;
  while (!list.empty ()) {
    std::size_t comma = list.find (',');
    std::string_view item = trim (list.substr (0, comma));
    list = comma == std::string_view::npos ? std::string_view () : list.substr (comma + 1);
    if (item.empty ())
      continue;
    const Codec *c = codec_by_name (item);
    if (!c || c->kind != kind) {
      error = "Unknown " + std::string (media_kind_name (kind)) + " codec '" +
          std::string (item) + "'; known " + media_kind_name (kind) + " codecs are: ";
      bool first = true;
      for (const Codec &k : kCodecs) {
        if (k.kind != kind)
          continue;
        error += (first ? "" : ", ") + std::string (k.name);
        first = false;
      }
      return false;
    }
    if (std::find (result.begin (), result.end (), c) == result.end ())
      result.push_back (c);
  }
  out = std::move (result);
  return true;
}

std::string
codec_list_to_string (const std::vector<const Codec *> &codecs)
{
  std::string s;
  for (const Codec *c : codecs)
    s += (s.empty () ? "" : ",") + std::string (c->name);
  return s;
}

bool
can_encode (const Codec &codec)
{
  return have_factory (codec.encoder) && can_payload (codec);
}

bool
can_payload (const Codec &codec)
{
  return have_factory (codec.payloader);
}

bool
can_decode (const Codec &codec)
{
  return have_factory (codec.depayloader) &&
      (have_factory (codec.decoder) || have_factory (codec.fallback_decoder));
}

bool
can_depayload (const Codec &codec)
{
  return have_factory (codec.depayloader) && (!codec.parser || have_factory (codec.parser));
}

GstCaps *
rtp_caps (const Codec &codec, guint pt, bool rtcp_fb)
{
  GstCaps *caps = gst_caps_new_simple ("application/x-rtp",
      "media", G_TYPE_STRING, media_kind_name (codec.kind),
      "encoding-name", G_TYPE_STRING, codec.name,
      "clock-rate", G_TYPE_INT, (gint) codec.clock_rate, nullptr);
  GstStructure *s = gst_caps_get_structure (caps, 0);
  if (pt)
    gst_structure_set (s, "payload", G_TYPE_INT, (gint) pt, nullptr);
  if (codec.kind == MediaKind::Audio)
    gst_structure_set (s, "encoding-params", G_TYPE_STRING, "2", nullptr);
  if (codec.rtp_fmtp && *codec.rtp_fmtp) {
    std::string desc = std::string ("x, ") + codec.rtp_fmtp;
    GstStructure *extra = gst_structure_from_string (desc.c_str (), nullptr);
    if (extra) {
      gst_structure_foreach (extra, [] (GQuark field, const GValue *value, gpointer user) -> gboolean {
        gst_structure_id_set_value (static_cast<GstStructure *> (user), field, value);
        return TRUE;
      }, s);
      gst_structure_free (extra);
    }
  }
  if (rtcp_fb && codec.kind == MediaKind::Video) {
    gst_structure_set (s, "rtcp-fb-nack", G_TYPE_BOOLEAN, TRUE,
        "rtcp-fb-nack-pli", G_TYPE_BOOLEAN, TRUE,
        "rtcp-fb-ccm-fir", G_TYPE_BOOLEAN, TRUE, nullptr);
  }
  if (rtcp_fb) {
    // Transport-wide congestion control feedback on every media of the
    // bundle: the sender's bandwidth estimate (bandwidth.h) is fed by it.
    std::string extmap = "extmap-" + std::to_string (kTwccExtensionId);
    gst_structure_set (s, "rtcp-fb-transport-cc", G_TYPE_BOOLEAN, TRUE,
        extmap.c_str (), G_TYPE_STRING, kTwccExtensionUri, nullptr);
  }
  return caps;
}

GstCaps *
rtp_match_caps (const Codec &codec)
{
  return gst_caps_new_simple ("application/x-rtp",
      "media", G_TYPE_STRING, media_kind_name (codec.kind),
      "encoding-name", G_TYPE_STRING, codec.name,
      "clock-rate", G_TYPE_INT, (gint) codec.clock_rate, nullptr);
}

GstElement *
make_encoder (const Codec &codec, const char *name)
{
  GstElement *e = gst_element_factory_make (codec.encoder, name);
  if (!e)
    return nullptr;
  const std::string n = codec.name;
  if (n == "VP8" || n == "VP9") {
    // deadline=1: realtime; no lookahead; periodic keyframes only as a
    // safety net, joining viewers ask for one.
    gst_util_set_object_arg (G_OBJECT (e), "deadline", "1");
    gst_util_set_object_arg (G_OBJECT (e), "cpu-used", n == "VP8" ? "8" : "8");
    gst_util_set_object_arg (G_OBJECT (e), "lag-in-frames", "0");
    gst_util_set_object_arg (G_OBJECT (e), "end-usage", "cbr");
    gst_util_set_object_arg (G_OBJECT (e), "target-bitrate", "2000000");
    gst_util_set_object_arg (G_OBJECT (e), "keyframe-max-dist", "300");
    gst_util_set_object_arg (G_OBJECT (e), "error-resilient", "default");
    // Rate control for a live link rather than a file: a 1 s decoder buffer
    // (not libvpx's 6 s) keeps the bitrate near its target from second to
    // second, and a keyframe may not be more than 9 average frames, so
    // that it does not overflow a thin link's queue on its own.
    gst_util_set_object_arg (G_OBJECT (e), "buffer-size", "1000");
    gst_util_set_object_arg (G_OBJECT (e), "buffer-initial-size", "500");
    gst_util_set_object_arg (G_OBJECT (e), "buffer-optimal-size", "600");
    gst_util_set_object_arg (G_OBJECT (e), "max-intra-bitrate", "900");
    // One VP8 thread: with two, libvpx's threads spin on each other and
    // cost up to 3x the CPU for the same output (measured in bench/).
    gst_util_set_object_arg (G_OBJECT (e), "threads", n == "VP8" ? "1" : "2");
    if (n == "VP9")
      gst_util_set_object_arg (G_OBJECT (e), "row-mt", "true");
  } else if (n == "H264") {
    gst_util_set_object_arg (G_OBJECT (e), "tune", "zerolatency");
    gst_util_set_object_arg (G_OBJECT (e), "speed-preset", "ultrafast");
    gst_util_set_object_arg (G_OBJECT (e), "bitrate", "2000");
    gst_util_set_object_arg (G_OBJECT (e), "key-int-max", "300");
    gst_util_set_object_arg (G_OBJECT (e), "b-adapt", "false");
    gst_util_set_object_arg (G_OBJECT (e), "bframes", "0");
  } else if (n == "OPUS") {
    gst_util_set_object_arg (G_OBJECT (e), "frame-size", "20");
  }
  return e;
}

guint
encoder_bitrate (const Codec &codec, GstElement *encoder)
{
  const std::string n = codec.name;
  gint bps = 0;
  guint kbps = 0;
  if (n == "VP8" || n == "VP9" || n == "OPUS") {
    g_object_get (encoder, n == "OPUS" ? "bitrate" : "target-bitrate", &bps, nullptr);
    return (guint) std::max (bps, 0);
  }
  if (n == "H264") {
    g_object_get (encoder, "bitrate", &kbps, nullptr);  // x264enc: kbit/s
    return kbps * 1000;
  }
  return 0;
}

void
set_encoder_bitrate (const Codec &codec, GstElement *encoder, guint bps)
{
  const std::string n = codec.name;
  // vp8enc/vp9enc and x264enc reconfigure the running encoder.
  if (n == "VP8" || n == "VP9")
    g_object_set (encoder, "target-bitrate", (gint) bps, nullptr);
  else if (n == "H264")
    g_object_set (encoder, "bitrate", std::max (bps / 1000, 1u), nullptr);
  else if (n == "OPUS")
    g_object_set (encoder, "bitrate", (gint) bps, nullptr);
}

void
set_encoder_frame_dropping (const Codec &codec, GstElement *encoder, bool drop)
{
  const std::string n = codec.name;
  // libvpx skips a frame when its rate-control buffer would fall under 30%
  // (WebRTC's own setting).
  if (n == "VP8" || n == "VP9")
    g_object_set (encoder, "dropframe-threshold", drop ? 30 : 0, nullptr);
}

GstCaps *
encoder_input_caps (const Codec &codec)
{
  if (codec.kind == MediaKind::Audio)
    return gst_caps_from_string ("audio/x-raw, rate=(int)48000");
  // I420 keeps every encoder on its constrained-baseline / profile 0 path.
  return gst_caps_from_string ("video/x-raw, format=(string)I420");
}

GstElement *
make_payloader (const Codec &codec, guint pt, const char *name)
{
  GstElement *e = gst_element_factory_make (codec.payloader, name);
  if (!e)
    return nullptr;
  g_object_set (e, "pt", pt, "mtu", 1200u, nullptr);
  const std::string n = codec.name;
  if (n == "H264") {
    gst_util_set_object_arg (G_OBJECT (e), "config-interval", "-1");
    gst_util_set_object_arg (G_OBJECT (e), "aggregate-mode", "zero-latency");
  } else if (n == "VP8" || n == "VP9") {
    gst_util_set_object_arg (G_OBJECT (e), "picture-id-mode", "15-bit");
  }
  return e;
}

GstElement *
make_depayloader (const Codec &codec, const char *name)
{
  GstElement *e = gst_element_factory_make (codec.depayloader, name);
  if (!e)
    return nullptr;
  // Ask the sender for a keyframe on loss rather than showing garbage.
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (e), "request-keyframe"))
    g_object_set (e, "request-keyframe", TRUE, nullptr);
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (e), "wait-for-keyframe"))
    g_object_set (e, "wait-for-keyframe", TRUE, nullptr);
  return e;
}

GstElement *
make_decoder (const Codec &codec, const char *name)
{
  GstElement *e = gst_element_factory_make (codec.decoder, name);
  if (!e && codec.fallback_decoder)
    e = gst_element_factory_make (codec.fallback_decoder, name);
  return e;
}

GstElement *
make_parser (const Codec &codec, const char *name)
{
  if (!codec.parser)
    return nullptr;
  GstElement *e = gst_element_factory_make (codec.parser, name);
  if (e && g_object_class_find_property (G_OBJECT_GET_CLASS (e), "config-interval"))
    gst_util_set_object_arg (G_OBJECT (e), "config-interval", "-1");
  return e;
}

}  // namespace rtcstream
