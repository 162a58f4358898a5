// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define RTCSTREAM_TYPE_SRC (rtcstream_src_get_type ())
G_DECLARE_FINAL_TYPE (RtcstreamSrc, rtcstream_src, RTCSTREAM, SRC, GstBin)

GST_ELEMENT_REGISTER_DECLARE (rtcstreamsrc);

G_END_DECLS
