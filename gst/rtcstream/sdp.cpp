// SPDX-License-Identifier: LGPL-2.1-or-later
#include "sdp.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

namespace rtcstream {

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

}  // namespace

guint
sdp_extmap_id (const GstSDPMessage *sdp, const char *uri)
{
  if (!sdp)
    return 0;
  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++) {
    const GstSDPMedia *m = gst_sdp_message_get_media (sdp, i);
    for (guint k = 0; k < gst_sdp_media_attributes_len (m); k++) {
      const GstSDPAttribute *a = gst_sdp_media_get_attribute (m, k);
      if (g_strcmp0 (a->key, "extmap") == 0)
        if (guint id = extmap_id (a->value, uri))
          return id;
    }
  }
  for (guint k = 0; k < gst_sdp_message_attributes_len (sdp); k++) {
    const GstSDPAttribute *a = gst_sdp_message_get_attribute (sdp, k);
    if (g_strcmp0 (a->key, "extmap") == 0)
      if (guint id = extmap_id (a->value, uri))
        return id;
  }
  return 0;
}

bool
sdp_media_has_attribute (const GstSDPMedia *m, const char *key)
{
  for (guint i = 0; i < gst_sdp_media_attributes_len (m); i++)
    if (g_strcmp0 (gst_sdp_media_get_attribute (m, i)->key, key) == 0)
      return true;
  return false;
}

namespace {

// Audio and video media of sdp for which counts (media) holds.
template <typename Pred>
guint
count_av_media (const GstSDPMessage *sdp, Pred counts)
{
  guint n = 0;
  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++) {
    const GstSDPMedia *m = gst_sdp_message_get_media (sdp, i);
    const char *media = gst_sdp_media_get_media (m);
    if (counts (m) && (g_strcmp0 (media, "video") == 0 || g_strcmp0 (media, "audio") == 0))
      n++;
  }
  return n;
}

}  // namespace

guint
sdp_count_receiving_media (const GstWebRTCSessionDescription *offer)
{
  return count_av_media (offer->sdp, [] (const GstSDPMedia *m) {
    // With max-bundle, m-lines after the first are offered with port 0 and
    // a=bundle-only: they are live, not rejected.
    return gst_sdp_media_get_port (m) != 0 || sdp_media_has_attribute (m, "bundle-only");
  });
}

guint
sdp_count_sending_media (const GstWebRTCSessionDescription *answer)
{
  return count_av_media (answer->sdp, [] (const GstSDPMedia *m) {
    return gst_sdp_media_get_port (m) != 0 && !sdp_media_has_attribute (m, "recvonly") &&
        !sdp_media_has_attribute (m, "inactive");
  });
}

std::string
sdp_undecodable_offer (const GstWebRTCSessionDescription *offer,
    const std::vector<const Codec *> &video_codecs,
    const std::vector<const Codec *> &audio_codecs)
{
  std::string problems;
  for (guint i = 0; i < gst_sdp_message_medias_len (offer->sdp); i++) {
    const GstSDPMedia *m = gst_sdp_message_get_media (offer->sdp, i);
    const char *media = gst_sdp_media_get_media (m);
    bool video = g_strcmp0 (media, "video") == 0;
    if (!video && g_strcmp0 (media, "audio") != 0)
      continue;
    const auto &accepted = video ? video_codecs : audio_codecs;
    std::string offered;
    bool ok = false;
    for (guint a = 0; a < gst_sdp_media_attributes_len (m); a++) {
      const GstSDPAttribute *attr = gst_sdp_media_get_attribute (m, a);
      if (g_strcmp0 (attr->key, "rtpmap") != 0 || !attr->value)
        continue;
      const char *sp = strchr (attr->value, ' ');
      if (!sp)
        continue;
      std::string name (sp + 1);
      name = name.substr (0, name.find ('/'));
      const Codec *c = codec_by_name (name);
      if (!c)
        continue;  // rtx, red, ulpfec...
      offered += (offered.empty () ? "" : ",") + std::string (c->name);
      for (const Codec *want : accepted)
        ok |= want == c && can_decode (*c);
    }
    if (!ok && !offered.empty ())
      problems += std::string (problems.empty () ? "" : "; ") + "it offers " + offered +
          " for " + media;
  }
  return problems;
}

}  // namespace rtcstream
