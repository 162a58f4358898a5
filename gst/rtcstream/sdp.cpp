// SPDX-License-Identifier: LGPL-2.1-or-later
#include "sdp.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

namespace rtcstream {

namespace {

bool
have_factory (const char *name)
{
  GstElementFactory *f = name ? gst_element_factory_find (name) : nullptr;
  if (!f)
    return false;
  gst_object_unref (f);
  return true;
}

// Whether the peer's direction of a media fits: it receives when we send.
bool
direction_fits (const GstSDPMessage *sdp, const GstSDPMedia *media, bool we_send)
{
  auto has = [&] (const char *key) {
    return gst_sdp_media_get_attribute_val (media, key) ||
        gst_sdp_message_get_attribute_val (sdp, key);
  };
  if (has ("inactive"))
    return false;
  return we_send ? !has ("sendonly") : !has ("recvonly");
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

std::vector<CodecChoice>
sdp_media_choices (const GstSDPMessage *sdp, guint idx, bool we_send)
{
  std::vector<CodecChoice> out;
  if (!sdp || idx >= gst_sdp_message_medias_len (sdp))
    return out;
  const GstSDPMedia *media = gst_sdp_message_get_media (sdp, idx);
  const char *type = gst_sdp_media_get_media (media);
  MediaKind kind;
  if (g_strcmp0 (type, "video") == 0)
    kind = MediaKind::Video;
  else if (g_strcmp0 (type, "audio") == 0)
    kind = MediaKind::Audio;
  else
    return out;
  // Port 0 is a rejected media, but for a=bundle-only: webrtcbin with
  // max-bundle (rtcstreamsrc whep+, rtcstreamsink whip+) offers every media
  // after the first that way.
  if ((gst_sdp_media_get_port (media) == 0 && !sdp_media_has_attribute (media, "bundle-only")) ||
      !direction_fits (sdp, media, we_send))
    return out;
  for (guint f = 0; f < gst_sdp_media_formats_len (media); f++) {
    const char *fmt = gst_sdp_media_get_format (media, f);
    char *end = nullptr;
    const unsigned long pt = fmt ? std::strtoul (fmt, &end, 10) : 128;
    if (!fmt || *fmt == '\0' || *end != '\0' || pt > 127)
      continue;
    GstCaps *caps = choice_caps (media, static_cast<guint> (pt));
    if (!caps)
      continue;
    const Codec *codec = codec_of (caps, kind);
    if (!codec || !have_factory (we_send ? codec->payloader : codec->depayloader)) {
      gst_caps_unref (caps);
      continue;
    }
    CodecChoice choice;
    choice.codec = codec;
    choice.pt = static_cast<guint> (pt);
    choice.caps = caps;
    out.push_back (choice);
  }
  return out;
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
sdp_media_codec (const GstSDPMessage *sdp, guint idx, guint *pt)
{
  if (!sdp || idx >= gst_sdp_message_medias_len (sdp))
    return {};
  const GstSDPMedia *media = gst_sdp_message_get_media (sdp, idx);
  if (gst_sdp_media_get_port (media) == 0 || gst_sdp_media_formats_len (media) == 0)
    return {};
  const char *fmt = gst_sdp_media_get_format (media, 0);
  guint payload = (guint) std::strtoul (fmt, nullptr, 10);
  if (pt)
    *pt = payload;
  for (guint i = 0; i < gst_sdp_media_attributes_len (media); i++) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute (media, i);
    if (g_strcmp0 (a->key, "rtpmap") != 0 || !a->value)
      continue;
    char *end = nullptr;
    guint p = (guint) std::strtoul (a->value, &end, 10);
    if (p != payload || !end)
      continue;
    while (*end == ' ')
      end++;
    std::string name (end);
    name = name.substr (0, name.find ('/'));
    std::transform (name.begin (), name.end (), name.begin (),
        [] (unsigned char c) { return (char) std::toupper (c); });
    return name;
  }
  return {};
}

namespace {

// "ID[/direction] URI [attributes]": the id when the URI is uri, else 0.
guint
extmap_id (const char *value, const char *uri)
{
  if (!value)
    return 0;
  char *end = nullptr;
  guint id = (guint) std::strtoul (value, &end, 10);
  if (!end || end == value)
    return 0;
  while (*end && *end != ' ')
    end++;  // a direction after '/'
  while (*end == ' ')
    end++;
  size_t n = std::strlen (uri);
  return std::strncmp (end, uri, n) == 0 && (end[n] == '\0' || end[n] == ' ') ? id : 0;
}

// The id of uri in one media's a=extmap lines, or 0.
guint
media_extmap_id (const GstSDPMedia *m, const char *uri)
{
  for (guint k = 0; k < gst_sdp_media_attributes_len (m); k++) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute (m, k);
    if (g_strcmp0 (a->key, "extmap") == 0)
      if (guint id = extmap_id (a->value, uri))
        return id;
  }
  return 0;
}

// The id of uri in the session-level a=extmap lines, or 0.
guint
session_extmap_id (const GstSDPMessage *sdp, const char *uri)
{
  for (guint k = 0; k < gst_sdp_message_attributes_len (sdp); k++) {
    const GstSDPAttribute *a = gst_sdp_message_get_attribute (sdp, k);
    if (g_strcmp0 (a->key, "extmap") == 0)
      if (guint id = extmap_id (a->value, uri))
        return id;
  }
  return 0;
}

}  // namespace

guint
sdp_extmap_id (const GstSDPMessage *sdp, const char *uri)
{
  if (!sdp)
    return 0;
  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++)
    if (guint id = media_extmap_id (gst_sdp_message_get_media (sdp, i), uri))
      return id;
  return session_extmap_id (sdp, uri);
}

guint
sdp_media_extmap_id (const GstSDPMessage *sdp, guint idx, const char *uri)
{
  if (!sdp || idx >= gst_sdp_message_medias_len (sdp))
    return 0;
  if (guint id = media_extmap_id (gst_sdp_message_get_media (sdp, idx), uri))
    return id;
  return session_extmap_id (sdp, uri);
}

void
sdp_answer_as_dtls_server (GstSDPMessage *sdp)
{
  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++) {
    auto *m = const_cast<GstSDPMedia *> (gst_sdp_message_get_media (sdp, i));
    for (guint a = 0; a < gst_sdp_media_attributes_len (m); a++) {
      const GstSDPAttribute *attr = gst_sdp_media_get_attribute (m, a);
      if (g_strcmp0 (attr->key, "setup") == 0 && g_strcmp0 (attr->value, "active") == 0) {
        GstSDPAttribute passive;
        gst_sdp_attribute_set (&passive, "setup", "passive");
        gst_sdp_media_replace_attribute (m, a, &passive);
      }
    }
  }
}

bool
sdp_media_has_attribute (const GstSDPMedia *m, const char *key)
{
  for (guint i = 0; i < gst_sdp_media_attributes_len (m); i++)
    if (g_strcmp0 (gst_sdp_media_get_attribute (m, i)->key, key) == 0)
      return true;
  return false;
}

std::vector<const Codec *>
sdp_media_codecs (const GstSDPMedia *m)
{
  std::vector<const Codec *> codecs;
  for (guint f = 0; f < gst_sdp_media_formats_len (m); f++) {
    guint pt = (guint) std::strtoul (gst_sdp_media_get_format (m, f), nullptr, 10);
    for (guint a = 0; a < gst_sdp_media_attributes_len (m); a++) {
      const GstSDPAttribute *attr = gst_sdp_media_get_attribute (m, a);
      if (g_strcmp0 (attr->key, "rtpmap") != 0 || !attr->value)
        continue;
      char *end = nullptr;
      if ((guint) std::strtoul (attr->value, &end, 10) != pt || !end || *end != ' ')
        continue;
      std::string name (end + 1);
      const Codec *c = codec_by_name (name.substr (0, name.find ('/')));
      if (c && std::find (codecs.begin (), codecs.end (), c) == codecs.end ())
        codecs.push_back (c);
      break;
    }
  }
  return codecs;
}

std::vector<ReceivingMedia>
sdp_receiving_media (const GstWebRTCSessionDescription *offer)
{
  std::vector<ReceivingMedia> media;
  for (guint i = 0; i < gst_sdp_message_medias_len (offer->sdp); i++) {
    const GstSDPMedia *m = gst_sdp_message_get_media (offer->sdp, i);
    const char *kind = gst_sdp_media_get_media (m);
    bool video = g_strcmp0 (kind, "video") == 0;
    if (!video && g_strcmp0 (kind, "audio") != 0)
      continue;
    // With max-bundle, m-lines after the first are offered with port 0 and
    // a=bundle-only: they are live, not rejected.
    if (gst_sdp_media_get_port (m) == 0 && !sdp_media_has_attribute (m, "bundle-only"))
      continue;
    media.push_back ({i, video ? MediaKind::Video : MediaKind::Audio, sdp_media_codecs (m)});
  }
  return media;
}

bool
sdp_answer_sends (const GstWebRTCSessionDescription *answer, guint mline)
{
  if (!answer || mline >= gst_sdp_message_medias_len (answer->sdp))
    return false;
  const GstSDPMedia *m = gst_sdp_message_get_media (answer->sdp, mline);
  if (sdp_media_has_attribute (m, "recvonly") || sdp_media_has_attribute (m, "inactive"))
    return false;
  if (gst_sdp_media_get_port (m) != 0)
    return true;
  // Port 0: rejected, unless bundled (some answerers give the m-lines after
  // the first port 0 too); a rejected m-line leaves the BUNDLE group.
  const char *mid = gst_sdp_media_get_attribute_val (m, "mid");
  if (!mid)
    return false;
  for (guint i = 0; i < gst_sdp_message_attributes_len (answer->sdp); i++) {
    const GstSDPAttribute *a = gst_sdp_message_get_attribute (answer->sdp, i);
    if (g_strcmp0 (a->key, "group") != 0 || !a->value || !g_str_has_prefix (a->value, "BUNDLE "))
      continue;
    g_auto (GStrv) mids = g_strsplit (a->value + strlen ("BUNDLE "), " ", -1);
    if (g_strv_contains (mids, mid))
      return true;
  }
  return false;
}

}  // namespace rtcstream
