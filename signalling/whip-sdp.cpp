// SPDX-License-Identifier: LGPL-2.1-or-later
#include "whip-sdp.h"

#include <cstdlib>
#include <cstring>
#include <string_view>

namespace rtcstream::signalling {

namespace {

constexpr std::size_t kMaxCandidateBytes = 512;
constexpr std::size_t kMaxFragCandidates = 64;

bool
have_factory (const char *name)
{
  GstElementFactory *f = name ? gst_element_factory_find (name) : nullptr;
  if (!f)
    return false;
  gst_object_unref (f);
  return true;
}

// Control characters other than line ends and tabs are not SDP.
bool
plain_text (std::string_view text)
{
  for (char c : text) {
    const auto u = static_cast<unsigned char> (c);
    if (u < 0x20 && c != '\r' && c != '\n' && c != '\t')
      return false;
    if (u == 0x7f)
      return false;
  }
  return true;
}

const char *
attribute (const GstSDPMessage *sdp, const GstSDPMedia *media, const char *key)
{
  const char *v = gst_sdp_media_get_attribute_val (media, key);
  return v ? v : gst_sdp_message_get_attribute_val (sdp, key);
}

bool
has_attribute (const GstSDPMedia *media, const char *key)
{
  return gst_sdp_media_get_attribute_val (media, key) != nullptr;
}

// Whether the offered direction of a media fits what the client asked for.
bool
direction_fits (const GstSDPMessage *sdp, const GstSDPMedia *media, OfferKind kind)
{
  auto has = [&] (const char *key) {
    return has_attribute (media, key) || gst_sdp_message_get_attribute_val (sdp, key);
  };
  if (has ("inactive"))
    return false;
  if (kind == OfferKind::Publish)
    return !has ("recvonly");
  return !has ("sendonly");
}

// Fields of the offer's format kept in our caps: what identifies the codec
// and its parameters, not the SDP attributes gst_sdp_media_get_caps_from_media
// copies along (a-*, x-*, ssrc-*).
bool
kept_field (const char *name)
{
  return !g_str_has_prefix (name, "a-") && !g_str_has_prefix (name, "x-") &&
      !g_str_has_prefix (name, "ssrc-") && std::strcmp (name, "ssrc") != 0;
}

GstCaps *
choice_caps (const GstSDPMedia *media, guint pt)
{
  g_autoptr (GstCaps) raw = gst_sdp_media_get_caps_from_media (media, static_cast<gint> (pt));
  if (!raw || gst_caps_get_size (raw) != 1)
    return nullptr;
  GstStructure *s = gst_structure_copy (gst_caps_get_structure (raw, 0));
  gst_structure_set_name (s, "application/x-rtp");
  gst_structure_filter_and_map_in_place (s, [] (GQuark field, GValue *, gpointer) -> gboolean {
    return kept_field (g_quark_to_string (field));
  }, nullptr);
  gst_structure_set (s, "payload", G_TYPE_INT, static_cast<gint> (pt), nullptr);
  GstCaps *caps = gst_caps_new_empty ();
  gst_caps_append_structure (caps, s);
  return caps;
}

// The codec of one offered format, or null when we cannot serve it.
const Codec *
codec_of (const GstCaps *caps, MediaKind kind)
{
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  const char *name = gst_structure_get_string (s, "encoding-name");
  if (!name)
    return nullptr;
  const Codec *codec = codec_by_name (name);
  if (!codec || codec->kind != kind)
    return nullptr;
  gint rate = 0;
  if (!gst_structure_get_int (s, "clock-rate", &rate) || static_cast<guint> (rate) !=
      codec->clock_rate)
    return nullptr;
  if (std::strcmp (codec->name, "H264") == 0) {
    // Only non-interleaved mode, which every WebRTC stack speaks.
    const char *mode = gst_structure_get_string (s, "packetization-mode");
    if (!mode || std::strcmp (mode, "1") != 0)
      return nullptr;
  }
  return codec;
}

}  // namespace

CodecChoice::CodecChoice (const CodecChoice &o)
    : codec (o.codec), pt (o.pt), caps (o.caps ? gst_caps_ref (o.caps) : nullptr)
{
}

CodecChoice &
CodecChoice::operator= (const CodecChoice &o)
{
  if (this != &o) {
    if (caps)
      gst_caps_unref (caps);
    codec = o.codec;
    pt = o.pt;
    caps = o.caps ? gst_caps_ref (o.caps) : nullptr;
  }
  return *this;
}

CodecChoice::~CodecChoice ()
{
  if (caps)
    gst_caps_unref (caps);
}

std::size_t
Offer::usable () const
{
  std::size_t n = 0;
  for (const OfferMedia &m : media)
    n += m.choices.empty () ? 0 : 1;
  return n;
}

bool
analyse_offer (const std::string &text, OfferKind kind, Offer &out, std::string &error)
{
  out = Offer ();
  if (!plain_text (text) || text.compare (0, 3, "v=0") != 0) {
    error = "The body is not an SDP offer (it must start with \"v=0\").";
    return false;
  }
  g_autoptr (GstSDPMessage) sdp = nullptr;
  if (gst_sdp_message_new_from_text (text.c_str (), &sdp) != GST_SDP_OK || !sdp) {
    error = "The SDP offer could not be parsed.";
    return false;
  }
  const guint n_media = gst_sdp_message_medias_len (sdp);
  if (n_media == 0) {
    error = "The SDP offer has no media (m= lines).";
    return false;
  }
  if (n_media > kMaxMediaLines) {
    error = "The SDP offer has more than " + std::to_string (kMaxMediaLines) + " media.";
    return false;
  }
  guint n_attributes = gst_sdp_message_attributes_len (sdp);
  for (guint i = 0; i < n_media; i++)
    n_attributes += gst_sdp_media_attributes_len (gst_sdp_message_get_media (sdp, i));
  if (n_attributes > kMaxAttributes) {
    error = "The SDP offer has more than " + std::to_string (kMaxAttributes) + " attributes.";
    return false;
  }

  for (guint i = 0; i < n_media; i++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (sdp, i);
    const char *type = gst_sdp_media_get_media (media);
    OfferMedia om;
    om.mline = i;
    if (g_strcmp0 (type, "video") == 0) {
      om.kind = MediaKind::Video;
    } else if (g_strcmp0 (type, "audio") == 0) {
      om.kind = MediaKind::Audio;
    } else {
      error = std::string ("Only audio and video media are supported; the offer has \"") +
          (type ? type : "") + "\" (leave out data channels).";
      return false;
    }
    if (const char *mid = gst_sdp_media_get_attribute_val (media, "mid"))
      om.mid = mid;
    if (!attribute (sdp, media, "ice-ufrag") || !attribute (sdp, media, "ice-pwd")) {
      error = "The SDP offer has no ICE credentials (a=ice-ufrag and a=ice-pwd).";
      return false;
    }
    if (!attribute (sdp, media, "fingerprint")) {
      error = "The SDP offer has no DTLS fingerprint (a=fingerprint).";
      return false;
    }
    const guint n_formats = gst_sdp_media_formats_len (media);
    if (n_formats > kMaxFormatsPerMedia) {
      error = "A media of the SDP offer lists more than " +
          std::to_string (kMaxFormatsPerMedia) + " formats.";
      return false;
    }
    const bool wanted = gst_sdp_media_get_port (media) != 0 &&
        direction_fits (sdp, media, kind);
    for (guint f = 0; wanted && f < n_formats; f++) {
      const char *fmt = gst_sdp_media_get_format (media, f);
      char *end = nullptr;
      const unsigned long pt = fmt ? std::strtoul (fmt, &end, 10) : 128;
      if (!fmt || *fmt == '\0' || *end != '\0' || pt > 127)
        continue;
      GstCaps *caps = choice_caps (media, static_cast<guint> (pt));
      if (!caps)
        continue;
      const Codec *codec = codec_of (caps, om.kind);
      const char *needed = !codec ? nullptr
          : kind == OfferKind::Publish ? codec->depayloader : codec->payloader;
      if (!codec || !have_factory (needed)) {
        gst_caps_unref (caps);
        continue;
      }
      CodecChoice choice;
      choice.codec = codec;
      choice.pt = static_cast<guint> (pt);
      choice.caps = caps;
      om.choices.push_back (choice);
    }
    out.media.push_back (std::move (om));
  }
  // A BUNDLE group over media with different ICE credentials (aiortc, whose
  // media each have their own transport until the answer bundles them).
  // webrtcbin refuses such an offer, yet with BUNDLE only the tagged media's
  // transport is used (RFC 8843 section 7.3.3), so every media takes the
  // credentials of the first: that is the offer webrtcbin is given.
  if (gst_sdp_message_get_attribute_val (sdp, "group") && n_media > 1) {
    GstSDPMedia *first = const_cast<GstSDPMedia *> (gst_sdp_message_get_media (sdp, 0));
    const std::string ufrag0 = attribute (sdp, first, "ice-ufrag");
    const std::string pwd0 = attribute (sdp, first, "ice-pwd");
    for (guint i = 1; i < n_media; i++) {
      auto *media = const_cast<GstSDPMedia *> (gst_sdp_message_get_media (sdp, i));
      for (guint a = 0; a < gst_sdp_media_attributes_len (media); a++) {
        const GstSDPAttribute *attr = gst_sdp_media_get_attribute (media, a);
        const bool ufrag = g_strcmp0 (attr->key, "ice-ufrag") == 0;
        if ((!ufrag && g_strcmp0 (attr->key, "ice-pwd") != 0) ||
            (ufrag ? ufrag0 : pwd0) == (attr->value ? attr->value : ""))
          continue;
        GstSDPAttribute same;
        gst_sdp_attribute_set (&same, attr->key, (ufrag ? ufrag0 : pwd0).c_str ());
        gst_sdp_media_replace_attribute (media, a, &same);
        out.credentials_unified = true;
      }
    }
  }
  if (out.credentials_unified) {
    g_autofree char *unified = gst_sdp_message_as_text (sdp);
    out.unified_text = unified;
  }
  if (out.usable () == 0) {
    error = kind == OfferKind::Publish
        ? "No media of the offer sends a codec we take (VP8, VP9, H264 with "
          "packetization-mode=1, Opus); the media must be sendonly or sendrecv."
        : "No media of the offer receives a codec we send (VP8, VP9, H264 with "
          "packetization-mode=1, Opus); the media must be recvonly or sendrecv.";
    return false;
  }
  return true;
}

GstCaps *
preference_caps (const CodecChoice &choice, bool loose)
{
  GstCaps *caps = gst_caps_copy (choice.caps);
  if (loose) {
    GstStructure *s = gst_caps_get_structure (caps, 0);
    gst_structure_filter_and_map_in_place (s, [] (GQuark field, GValue *, gpointer) -> gboolean {
      const char *name = g_quark_to_string (field);
      return std::strcmp (name, "profile-level-id") != 0 && !g_str_has_prefix (name, "sprop-");
    }, nullptr);
  }
  return caps;
}

std::string
answer_text (const GstSDPMessage *answer,
    const std::vector<std::pair<guint, std::string>> &candidates)
{
  g_autoptr (GstSDPMessage) copy = nullptr;
  gst_sdp_message_copy (answer, &copy);
  const guint n_media = gst_sdp_message_medias_len (copy);
  std::vector<bool> had (n_media, false);
  for (guint i = 0; i < n_media; i++)
    had[i] = gst_sdp_media_get_attribute_val (gst_sdp_message_get_media (copy, i),
        "candidate") != nullptr;
  std::vector<bool> added (n_media, false);
  for (const auto &[mline, cand] : candidates) {
    if (mline >= n_media || had[mline])
      continue;
    std::string value = cand;
    if (value.rfind ("candidate:", 0) == 0)
      value.erase (0, 10);
    auto *media = const_cast<GstSDPMedia *> (gst_sdp_message_get_media (copy, mline));
    gst_sdp_media_add_attribute (media, "candidate", value.c_str ());
    added[mline] = true;
  }
  for (guint i = 0; i < n_media; i++) {
    if (added[i]) {
      auto *media = const_cast<GstSDPMedia *> (gst_sdp_message_get_media (copy, i));
      gst_sdp_media_add_attribute (media, "end-of-candidates", nullptr);
    }
  }
  g_autofree char *text = gst_sdp_message_as_text (copy);
  return text ? text : "";
}

bool
parse_sdpfrag (const std::string &body, const Offer &offer,
    std::vector<std::pair<guint, std::string>> &out, std::string &error)
{
  out.clear ();
  if (!plain_text (body)) {
    error = "The body is not a trickle-ice-sdpfrag (it has control characters).";
    return false;
  }
  guint mline = offer.media.empty () ? 0 : offer.media.front ().mline;
  std::size_t start = 0;
  while (start < body.size ()) {
    std::size_t end = body.find ('\n', start);
    if (end == std::string::npos)
      end = body.size ();
    std::string line = body.substr (start, end - start);
    start = end + 1;
    if (!line.empty () && line.back () == '\r')
      line.pop_back ();
    if (line.rfind ("a=mid:", 0) == 0) {
      const std::string mid = line.substr (6);
      bool found = false;
      for (const OfferMedia &m : offer.media) {
        if (m.mid == mid) {
          mline = m.mline;
          found = true;
        }
      }
      if (!found) {
        error = "The sdpfrag names a media (a=mid:" + mid.substr (0, 32) +
            ") that the offer does not have.";
        return false;
      }
    } else if (line.rfind ("a=candidate:", 0) == 0) {
      if (line.size () - 2 > kMaxCandidateBytes) {
        error = "A candidate of the sdpfrag is longer than " +
            std::to_string (kMaxCandidateBytes) + " bytes.";
        return false;
      }
      if (out.size () >= kMaxFragCandidates) {
        error = "The sdpfrag has more than " + std::to_string (kMaxFragCandidates) +
            " candidates.";
        return false;
      }
      out.emplace_back (mline, line.substr (2));
    }
    // Other lines (ice-ufrag, ice-pwd, m=, end-of-candidates) carry nothing
    // we act on: ICE restarts are not supported.
  }
  return true;
}

}  // namespace rtcstream::signalling
