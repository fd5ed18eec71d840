import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for AWS's Price List Query API, which cannot run here (moto has no Pricing service).
 * It follows the API reference: the AWS JSON 1.1 protocol with target AWSPriceListService.GetProducts;
 * Filters of type TERM_MATCH (the field equals the value), EQUALS, CONTAINS (the field contains it),
 * ANY_OF and NONE_OF (comma-separated values) over the product's attributes and productFamily;
 * MaxResults from 1 to 100; NextToken pages; and a PriceList of JSON strings in the aws_v1 format
 * (product, serviceCode, terms.OnDemand and terms.Reserved with priceDimensions, version,
 * publicationDate). Its pages are small on purpose, so that clients must follow NextToken.
 */

export interface CatalogProduct {
  service: string;
  family?: string;
  attributes: Record<string, string>;
  /** USD per unit; tiers as [beginRange, price], the last open-ended. */
  price: number | [number, number][];
  unit?: string;
}

export interface PriceListRequest {
  ServiceCode?: string;
  Filters?: { Type: string; Field: string; Value: string }[];
  FormatVersion?: string;
  MaxResults?: number;
  NextToken?: string;
}

export interface PriceListStandIn {
  url: string;
  requests: PriceListRequest[];
  close(): Promise<void>;
}

const ON_DEMAND = 'JRTCKXETXF';
const RATE = '6YS6EN2CT7';

/** The PriceList entry of a product, as GetProducts returns it (one JSON string per product). */
function priceListEntry(product: CatalogProduct, index: number): string {
  const sku = `SKU${String(index).padStart(13, '0')}`;
  const tiers = typeof product.price === 'number' ? [[0, product.price] as [number, number]] : product.price;
  const priceDimensions = Object.fromEntries(
    tiers.map(([begin, price], i) => [
      `${sku}.${ON_DEMAND}.${RATE}${i}`,
      {
        unit: product.unit ?? 'Hrs',
        beginRange: String(begin),
        endRange: i + 1 < tiers.length ? String(tiers[i + 1][0]) : 'Inf',
        description: `${price} per unit`,
        appliesTo: [],
        rateCode: `${sku}.${ON_DEMAND}.${RATE}${i}`,
        pricePerUnit: { USD: price.toFixed(10) },
      },
    ]),
  );
  return JSON.stringify({
    product: { productFamily: product.family, attributes: { servicecode: product.service, ...product.attributes }, sku },
    serviceCode: product.service,
    terms: {
      OnDemand: { [`${sku}.${ON_DEMAND}`]: { priceDimensions, sku, effectiveDate: '2026-11-01T00:00:00Z', offerTermCode: ON_DEMAND, termAttributes: {} } },
      // A reserved term is cheaper: a client that reads it instead of OnDemand gets the price wrong.
      Reserved: { [`${sku}.4NA7Y494T4`]: { priceDimensions: { [`${sku}.4NA7Y494T4.${RATE}`]: { unit: 'Hrs', beginRange: '0', endRange: 'Inf', pricePerUnit: { USD: '0.0000010000' } } }, sku, offerTermCode: '4NA7Y494T4', termAttributes: { LeaseContractLength: '1yr' } } },
    },
    version: '20261101000000',
    publicationDate: '2026-11-01T00:00:00Z',
  });
}

function matches(product: CatalogProduct, filter: { Type: string; Field: string; Value: string }): boolean {
  const value = filter.Field === 'productFamily' ? product.family : filter.Field === 'ServiceCode' ? product.service : product.attributes[filter.Field];
  if (value === undefined) return false;
  switch (filter.Type) {
    case 'TERM_MATCH':
    case 'EQUALS':
      return value === filter.Value;
    case 'CONTAINS':
      return value.includes(filter.Value);
    case 'ANY_OF':
      return filter.Value.split(',').includes(value);
    case 'NONE_OF':
      return !filter.Value.split(',').includes(value);
    default:
      throw new Error(`unknown filter type ${filter.Type}`);
  }
}

const FILTER_TYPES = new Set(['TERM_MATCH', 'EQUALS', 'CONTAINS', 'ANY_OF', 'NONE_OF']);

export async function startPriceListStandIn(catalog: CatalogProduct[], options: { pageSize?: number; deny?: boolean } = {}): Promise<PriceListStandIn> {
  const pageSize = options.pageSize ?? 2;
  const requests: PriceListRequest[] = [];
  const entries = catalog.map((product, i) => ({ product, text: priceListEntry(product, i) }));
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      const fail = (type: string, message: string) => {
        response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify({ __type: type, Message: message }));
      };
      if (request.headers['x-amz-target'] !== 'AWSPriceListService.GetProducts') return fail('InvalidParameterException', `unsupported target ${request.headers['x-amz-target']}`);
      if (!/^AWS4-HMAC-SHA256 Credential=\w+\/\d{8}\/us-east-1\/pricing\//.test(String(request.headers.authorization))) return fail('InvalidParameterException', 'the request is not signed for pricing in us-east-1');
      const input = JSON.parse(body) as PriceListRequest;
      requests.push(input);
      if (options.deny) return fail('AccessDeniedException', 'User: arn:aws:iam::123456789012:user/ci is not authorized to perform: pricing:GetProducts');
      if (!input.ServiceCode) return fail('InvalidParameterException', 'ServiceCode is required');
      const maxResults = input.MaxResults ?? 100;
      if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > 100) return fail('InvalidParameterException', 'MaxResults must be between 1 and 100');
      if (input.FormatVersion !== undefined && input.FormatVersion !== 'aws_v1') return fail('InvalidParameterException', 'FormatVersion must be aws_v1');
      for (const filter of input.Filters ?? []) if (!FILTER_TYPES.has(filter.Type)) return fail('InvalidParameterException', `invalid filter type ${filter.Type}`);
      const found = entries.filter(({ product }) => product.service === input.ServiceCode && (input.Filters ?? []).every((filter) => matches(product, filter)));
      const start = input.NextToken ? Number(input.NextToken.replace('page-', '')) : 0;
      const size = Math.min(pageSize, maxResults);
      const page = found.slice(start, start + size);
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify({ FormatVersion: 'aws_v1', PriceList: page.map((entry) => entry.text), ...(start + size < found.length ? { NextToken: `page-${start + size}` } : {}) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
