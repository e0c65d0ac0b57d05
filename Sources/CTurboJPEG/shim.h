#include <turbojpeg.h>

/* libjpeg-turbo 2.1 and later refuse, with this flag, a progressive JPEG of more than 500 scans (each scan walks the
   whole image: thousands of tiny ones cost minutes); older versions have no such flag. */
#ifdef TJFLAG_LIMITSCANS
static const int EMOVERE_TJFLAG_LIMITSCANS = TJFLAG_LIMITSCANS;
#else
static const int EMOVERE_TJFLAG_LIMITSCANS = 0;
#endif
