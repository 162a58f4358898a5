// SPDX-License-Identifier: LGPL-2.1-or-later
#include "whip-util.h"

#include <glib.h>

#include <algorithm>
#include <map>
#include <string_view>

namespace rtcstream::whip {

namespace {

bool
starts_with (std::string_view s, std::string_view prefix)
{
  return s.substr (0, prefix.size ()) == prefix;
}

std::string
media_attribute (const GstSDPMedia *m, const char *key)
{
  const char *v = gst_sdp_media_get_attribute_val (m, key);
  return v ? v : "";
}

// The attribute value of a "candidate:..." or "a=candidate:..." line.
std::string
candidate_value (std::string c)
{
  if (starts_with (c, "a="))
    c.erase (0, 2);
  if (starts_with (c, "candidate:"))
    c.erase (0, 10);
  return c;
}

}  // namespace

void
add_candidates (GstSDPMessage *sdp, const std::vector<Candidate> &candidates, bool end)
{
  guint n = gst_sdp_message_medias_len (sdp);
  for (const Candidate &c : candidates) {
    if (c.first >= n || c.second.empty ())
      continue;
    // The API hands out const media of a message it lets us modify.
    auto *m = const_cast<GstSDPMedia *> (gst_sdp_message_get_media (sdp, c.first));
    gst_sdp_media_add_attribute (m, "candidate", candidate_value (c.second).c_str ());
  }
  if (!end)
    return;
  for (guint i = 0; i < n; i++) {
    auto *m = const_cast<GstSDPMedia *> (gst_sdp_message_get_media (sdp, i));
    bool had = false;
    for (const Candidate &c : candidates)
      had |= c.first == i && !c.second.empty ();
    if (had || i == 0)
      gst_sdp_media_add_attribute (m, "end-of-candidates", nullptr);
  }
}

std::string
make_sdpfrag (const GstSDPMessage *offer, const std::vector<Candidate> &candidates, bool end)
{
  std::string ufrag, pwd;
  if (gst_sdp_message_medias_len (offer) > 0) {
    const GstSDPMedia *m0 = gst_sdp_message_get_media (offer, 0);
    ufrag = media_attribute (m0, "ice-ufrag");
    pwd = media_attribute (m0, "ice-pwd");
  }
  if (ufrag.empty () && gst_sdp_message_get_attribute_val (offer, "ice-ufrag"))
    ufrag = gst_sdp_message_get_attribute_val (offer, "ice-ufrag");
  if (pwd.empty () && gst_sdp_message_get_attribute_val (offer, "ice-pwd"))
    pwd = gst_sdp_message_get_attribute_val (offer, "ice-pwd");

  std::string out;
  if (!ufrag.empty ())
    out += "a=ice-ufrag:" + ufrag + "\r\n";
  if (!pwd.empty ())
    out += "a=ice-pwd:" + pwd + "\r\n";
  // Candidates grouped by m-line, in m-line order.
  std::map<unsigned, std::vector<std::string>> by_mline;
  for (const Candidate &c : candidates)
    if (!c.second.empty () && c.first < gst_sdp_message_medias_len (offer))
      by_mline[c.first].push_back (candidate_value (c.second));
  if (by_mline.empty () && end && gst_sdp_message_medias_len (offer) > 0)
    by_mline[0];
  for (auto &kv : by_mline) {
    const GstSDPMedia *m = gst_sdp_message_get_media (offer, kv.first);
    const char *proto = gst_sdp_media_get_proto (m);
    const char *fmt = gst_sdp_media_formats_len (m) > 0 ? gst_sdp_media_get_format (m, 0) : "0";
    out += std::string ("m=") + gst_sdp_media_get_media (m) + " 9 " +
        (proto ? proto : "UDP/TLS/RTP/SAVPF") + " " + fmt + "\r\n";
    std::string mid = media_attribute (m, "mid");
    if (!mid.empty ())
      out += "a=mid:" + mid + "\r\n";
    for (const std::string &c : kv.second)
      out += "a=candidate:" + c + "\r\n";
    if (end)
      out += "a=end-of-candidates\r\n";
  }
  return out;
}

bool
plain_text (std::string_view text)
{
  for (char c : text) {
    const auto u = static_cast<unsigned char> (c);
    if ((u < 0x20 && c != '\r' && c != '\n' && c != '\t') || u == 0x7f)
      return false;
  }
  return true;
}

std::vector<FragMedia>
sdpfrag_media (const GstSDPMessage *offer)
{
  std::vector<FragMedia> out;
  for (guint i = 0; i < gst_sdp_message_medias_len (offer); i++)
    out.push_back ({ media_attribute (gst_sdp_message_get_media (offer, i), "mid"), i });
  return out;
}

bool
parse_sdpfrag (const std::string &body, const std::vector<FragMedia> &media,
    std::vector<Candidate> &out, std::string &error)
{
  out.clear ();
  if (!plain_text (body)) {
    error = "The body is not a trickle-ice-sdpfrag (it has control characters).";
    return false;
  }
  unsigned mline = media.empty () ? 0 : media.front ().mline;
  std::size_t start = 0;
  while (start < body.size ()) {
    std::size_t end = body.find ('\n', start);
    if (end == std::string::npos)
      end = body.size ();
    std::string_view line (body.data () + start, end - start);
    start = end + 1;
    while (!line.empty () && (line.back () == '\r' || line.back () == ' '))
      line.remove_suffix (1);
    if (starts_with (line, "a=mid:")) {
      const std::string_view mid = line.substr (6);
      auto it = std::find_if (media.begin (), media.end (),
          [&] (const FragMedia &m) { return m.mid == mid; });
      if (it == media.end ()) {
        error = "The sdpfrag names a media (a=mid:" + std::string (mid.substr (0, 32)) +
            ") that the offer does not have.";
        return false;
      }
      mline = it->mline;
    } else if (starts_with (line, "a=candidate:")) {
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
      out.emplace_back (mline, std::string (line.substr (2)));
    }
    // Other lines (ice-ufrag, ice-pwd, m=, end-of-candidates) carry nothing
    // acted on: ICE restarts are not supported.
  }
  return true;
}

std::string
resolve_location (const std::string &base, const std::string &location)
{
  if (location.empty ())
    return {};
  g_autoptr (GError) err = nullptr;
  g_autofree char *resolved = g_uri_resolve_relative (base.c_str (), location.c_str (),
      G_URI_FLAGS_NONE, &err);
  return resolved ? resolved : "";
}

}  // namespace rtcstream::whip
