// SPDX-License-Identifier: LGPL-2.1-or-later
#include "whip-sdp.h"

#include "rtcstream/signallers/whip-util.h"

#include <cstdlib>
#include <cstring>
#include <string_view>

namespace rtcstream::signalling {

namespace {

const char *
attribute (const GstSDPMessage *sdp, const GstSDPMedia *media, const char *key)
{
  const char *v = gst_sdp_media_get_attribute_val (media, key);
  return v ? v : gst_sdp_message_get_attribute_val (sdp, key);
}

}  // namespace

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
  if (!whip::plain_text (text) || text.compare (0, 3, "v=0") != 0) {
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
    om.choices = sdp_media_choices (sdp, i, kind == OfferKind::Play);
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


std::vector<whip::FragMedia>
sdpfrag_media (const Offer &offer)
{
  std::vector<whip::FragMedia> out;
  for (const OfferMedia &m : offer.media)
    out.push_back ({ m.mid, m.mline });
  return out;
}

}  // namespace rtcstream::signalling
