// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libFuzzer target: the SDP offers of WHIP publishers and WHEP players, as
// rtcstream-signalling reads them before anything else (signalling/
// whip-sdp.h: limits, media, codecs and their parameters, BUNDLE and ICE
// credentials) and as the elements read an offer's media (rtcstream/sdp.h).
// Any text is accepted or refused with a sentence, never a crash.
#include <gst/gst.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "rtcstream/sdp.h"
#include "whip-sdp.h"

using rtcstream::signalling::Offer;
using rtcstream::signalling::OfferKind;

extern "C" int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  gst_init (argc, argv);
  return 0;
}

extern "C" int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const std::string text (reinterpret_cast<const char *> (data), size);
  for (OfferKind kind : { OfferKind::Publish, OfferKind::Play }) {
    Offer offer;
    std::string error;
    const bool ok = rtcstream::signalling::analyse_offer (text, kind, offer, error);
    if (!ok && error.empty ())
      abort ();
    if (!ok)
      continue;
    if (offer.usable () == 0 || offer.media.size () > rtcstream::signalling::kMaxMediaLines)
      abort ();
    // What the elements read of an accepted offer.
    const std::string &sdp_text = offer.credentials_unified ? offer.unified_text : text;
    GstSDPMessage *sdp = nullptr;
    if (gst_sdp_message_new_from_text (sdp_text.c_str (), &sdp) != GST_SDP_OK)
      abort ();
    for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++) {
      (void) rtcstream::sdp_media_choices (sdp, i, kind == OfferKind::Play);
      guint pt = 0;
      (void) rtcstream::sdp_media_codec (sdp, i, &pt);
    }
    gst_sdp_message_free (sdp);
  }
  return 0;
}
