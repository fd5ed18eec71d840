import { expect } from 'chai';
import { money, plural, quantity, unitPrice } from '../src/format.js';

describe('counts and amounts as printed', () => {
  it('one thing reads in the singular, others in the plural; money always shows its cents', () => {
    expect([plural(1, 'resource'), plural(0, 'resource'), plural(56, 'resource'), plural(2, 'address', 'addresses')]).to.deep.equal(['1 resource', '0 resources', '56 resources', '2 addresses']);
    expect([quantity(1, 'secret-months'), quantity(730, 'hours'), quantity(1, 'million requests'), quantity(1, 'thousand e-mails'), quantity(1, 'GB')]).to.deep.equal(['1 secret-month', '730 hours', '1 million requests', '1 thousand e-mails', '1 GB']);
    expect([money(0.4), money(123.575), money(undefined)]).to.deep.equal(['$0.40', '$123.58', 'unknown']);
    expect([unitPrice(0.4), unitPrice(0.011175), unitPrice(12), unitPrice(0.0000166667)]).to.deep.equal(['$0.40', '$0.011175', '$12.00', '$0.00001667']);
  });
});
