/* Placeholder for the tracker's search routes: answers 404 until they are built. */
#include "et.h"

const struct http_route et_search_routes[] = {
	{0},
};
